//! Black-box tests of the generic key commands. Expected replies in the scripts were recorded
//! from Redis 7.0.15 (`reference-redis redis PORT`) command by command and are compared byte for
//! byte; the tests after them check what differs by nature (order, time) by its properties.

use crate::common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::{Raw, Server};

#[test]
fn del_exists_unlink_touch_type() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("mset a 1 b 2 c 3", b"+OK\r\n"),
        ("exists a", b":1\r\n"),
        ("exists a a nokey b", b":3\r\n"),
        ("del a nokey", b":1\r\n"),
        ("del a", b":0\r\n"),
        ("exists a", b":0\r\n"),
        ("unlink b c nokey", b":2\r\n"),
        ("dbsize", b":0\r\n"),
        ("set a 1", b"+OK\r\n"),
        ("touch a a nokey", b":2\r\n"),
        ("type a", b"+string\r\n"),
        ("type nokey", b"+none\r\n"),
        ("set e v px 1", b"+OK\r\n"),
    ]);
    std::thread::sleep(std::time::Duration::from_millis(20));
    r.script(&[
        ("exists e", b":0\r\n"),
        ("del e", b":0\r\n"),
        ("type e", b"+none\r\n"),
        ("del", b"-ERR wrong number of arguments for 'del' command\r\n"),
        ("unlink", b"-ERR wrong number of arguments for 'unlink' command\r\n"),
        ("exists", b"-ERR wrong number of arguments for 'exists' command\r\n"),
        ("touch", b"-ERR wrong number of arguments for 'touch' command\r\n"),
        ("type", b"-ERR wrong number of arguments for 'type' command\r\n"),
        ("type a b", b"-ERR wrong number of arguments for 'type' command\r\n"),
    ]);
}

#[test]
fn rename() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("set a 1", b"+OK\r\n"),
        ("rename a a", b"+OK\r\n"),
        ("renamenx a a", b":0\r\n"),
        ("rename nokey x", b"-ERR no such key\r\n"),
        ("rename nokey nokey", b"-ERR no such key\r\n"),
        ("renamenx nokey x", b"-ERR no such key\r\n"),
        ("rename a b", b"+OK\r\n"),
        ("exists a", b":0\r\n"),
        ("get b", b"$1\r\n1\r\n"),
        ("set c 3", b"+OK\r\n"),
        ("renamenx b c", b":0\r\n"),
        ("renamenx b d", b":1\r\n"),
        ("get d", b"$1\r\n1\r\n"),
        ("rename d c", b"+OK\r\n"),
        ("get c", b"$1\r\n1\r\n"),
        ("set t v ex 100", b"+OK\r\n"),
        ("rename t t2", b"+OK\r\n"),
        ("ttl t2", b":100\r\n"),
        ("set t3 x", b"+OK\r\n"),
        ("rename t2 t3", b"+OK\r\n"),
        ("ttl t3", b":100\r\n"),
        ("renamenx t3 t4", b":1\r\n"),
        ("ttl t4", b":100\r\n"),
        ("rename a", b"-ERR wrong number of arguments for 'rename' command\r\n"),
        ("renamenx a", b"-ERR wrong number of arguments for 'renamenx' command\r\n"),
        ("rename a b c", b"-ERR wrong number of arguments for 'rename' command\r\n"),
    ]);
}

#[test]
fn copy_move() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("set y 1", b"+OK\r\n"),
        ("copy y y", b"-ERR source and destination objects are the same\r\n"),
        ("copy y z db", b"-ERR syntax error\r\n"),
        ("copy y z db abc", b"-ERR value is not an integer or out of range\r\n"),
        ("copy y z db 99", b"-ERR DB index is out of range\r\n"),
        ("copy y z db -1", b"-ERR DB index is out of range\r\n"),
        (
            "copy y z db 99999999999",
            b"-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
        ),
        ("copy y z foo", b"-ERR syntax error\r\n"),
        ("copy y z replace foo", b"-ERR syntax error\r\n"),
        ("copy y z", b":1\r\n"),
        ("get z", b"$1\r\n1\r\n"),
        ("copy y z", b":0\r\n"),
        ("set y 2", b"+OK\r\n"),
        ("copy y z replace", b":1\r\n"),
        ("get z", b"$1\r\n2\r\n"),
        ("copy nokey z", b":0\r\n"),
        ("copy y y db 1", b":1\r\n"),
        ("copy y y db 0", b"-ERR source and destination objects are the same\r\n"),
        ("copy y y db 1 replace", b":1\r\n"),
        ("copy y q DB 0 REPLACE", b":1\r\n"),
        ("set t v ex 100", b"+OK\r\n"),
        ("copy t t2", b":1\r\n"),
        ("ttl t2", b":100\r\n"),
        ("copy t t2 db 2", b":1\r\n"),
        ("select 2", b"+OK\r\n"),
        ("ttl t2", b":100\r\n"),
        ("select 0", b"+OK\r\n"),
        ("set m 1", b"+OK\r\n"),
        ("move m abc", b"-ERR value is not an integer or out of range\r\n"),
        ("move m 100", b"-ERR DB index is out of range\r\n"),
        ("move m -1", b"-ERR DB index is out of range\r\n"),
        (
            "move m 99999999999",
            b"-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
        ),
        ("move m 0", b"-ERR source and destination objects are the same\r\n"),
        ("move nokey 1", b":0\r\n"),
        ("move m 1", b":1\r\n"),
        ("move m 1", b":0\r\n"),
        ("exists m", b":0\r\n"),
        ("select 1", b"+OK\r\n"),
        ("get m", b"$1\r\n1\r\n"),
        ("set c 1", b"+OK\r\n"),
        ("select 0", b"+OK\r\n"),
        ("set c 2", b"+OK\r\n"),
        ("move c 1", b":0\r\n"),
        ("select 1", b"+OK\r\n"),
        ("move c 0", b":0\r\n"),
        ("get c", b"$1\r\n1\r\n"),
        ("select 0", b"+OK\r\n"),
        ("copy", b"-ERR wrong number of arguments for 'copy' command\r\n"),
        ("copy a", b"-ERR wrong number of arguments for 'copy' command\r\n"),
        ("move a", b"-ERR wrong number of arguments for 'move' command\r\n"),
        ("move a 1 2", b"-ERR wrong number of arguments for 'move' command\r\n"),
    ]);
}

#[test]
fn expire_options() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("set a 1", b"+OK\r\n"),
        (
            "expire a 10 nx xx",
            b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
        ),
        ("expire a 10 gt lt", b"-ERR GT and LT options at the same time are not compatible\r\n"),
        (
            "expire a 10 nx gt",
            b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
        ),
        (
            "expire a 10 NX LT",
            b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
        ),
        ("expire a 10 foo", b"-ERR Unsupported option foo\r\n"),
        ("expire a 10 xx foo", b"-ERR Unsupported option foo\r\n"),
        ("expire a abc", b"-ERR value is not an integer or out of range\r\n"),
        ("expire a 10 xx gt lt", b"-ERR GT and LT options at the same time are not compatible\r\n"),
        ("expire a 10.5", b"-ERR value is not an integer or out of range\r\n"),
        ("expire a 9223372036854775807", b"-ERR invalid expire time in 'expire' command\r\n"),
        ("expire a 9223372036854776", b"-ERR invalid expire time in 'expire' command\r\n"),
        ("expire a 9223372036854775", b"-ERR invalid expire time in 'expire' command\r\n"),
        ("expire a -9223372036854776", b"-ERR invalid expire time in 'expire' command\r\n"),
        ("expire a -9223372036854775", b":1\r\n"),
        ("exists a", b":0\r\n"),
        ("set a 1", b"+OK\r\n"),
        ("pexpire a 9223372036854775807", b"-ERR invalid expire time in 'pexpire' command\r\n"),
        ("pexpire a -9223372036854775808", b":1\r\n"),
        ("exists a", b":0\r\n"),
        ("set a 1", b"+OK\r\n"),
        ("pexpireat a 9223372036854775807", b":1\r\n"),
        ("expiretime a", b":9223372036854776\r\n"),
        ("pexpiretime a", b":9223372036854775807\r\n"),
        ("set a 1", b"+OK\r\n"),
        ("expireat a -9223372036854775808", b"-ERR invalid expire time in 'expireat' command\r\n"),
        ("expireat a -9223372036854775", b":1\r\n"),
        ("exists a", b":0\r\n"),
        ("set a 1", b"+OK\r\n"),
        ("expire a 100 gt", b":0\r\n"),
        ("expire a 100 lt", b":1\r\n"),
        ("ttl a", b":100\r\n"),
        ("expire a 50 gt", b":0\r\n"),
        ("expire a 200 gt", b":1\r\n"),
        ("ttl a", b":200\r\n"),
        ("expire a 300 lt", b":0\r\n"),
        ("expire a 50 xx lt", b":1\r\n"),
        ("ttl a", b":50\r\n"),
        ("expire a 10 nx", b":0\r\n"),
        ("persist a", b":1\r\n"),
        ("expire a 10 xx", b":0\r\n"),
        ("expire a 10 nx", b":1\r\n"),
        ("ttl a", b":10\r\n"),
        ("expire nokey 10", b":0\r\n"),
        ("pexpire nokey 10", b":0\r\n"),
        ("expireat nokey 10", b":0\r\n"),
        ("pexpireat nokey 10", b":0\r\n"),
        ("expire a 0", b":1\r\n"),
        ("exists a", b":0\r\n"),
        ("set a 1", b"+OK\r\n"),
        ("pexpire a -1", b":1\r\n"),
        ("exists a", b":0\r\n"),
        ("set a 1", b"+OK\r\n"),
        ("expireat a 1", b":1\r\n"),
        ("exists a", b":0\r\n"),
        ("set a 1", b"+OK\r\n"),
        ("expireat a 99999999999", b":1\r\n"),
        ("expiretime a", b":99999999999\r\n"),
        ("pexpireat a 99999999999999", b":1\r\n"),
        ("pexpiretime a", b":99999999999999\r\n"),
        ("expire", b"-ERR wrong number of arguments for 'expire' command\r\n"),
        ("expire a", b"-ERR wrong number of arguments for 'expire' command\r\n"),
        ("pexpire a", b"-ERR wrong number of arguments for 'pexpire' command\r\n"),
        ("expireat a", b"-ERR wrong number of arguments for 'expireat' command\r\n"),
        ("pexpireat a", b"-ERR wrong number of arguments for 'pexpireat' command\r\n"),
    ]);
}

#[test]
fn ttl_persist() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("ttl nokey", b":-2\r\n"),
        ("pttl nokey", b":-2\r\n"),
        ("expiretime nokey", b":-2\r\n"),
        ("pexpiretime nokey", b":-2\r\n"),
        ("persist nokey", b":0\r\n"),
        ("set b 1", b"+OK\r\n"),
        ("ttl b", b":-1\r\n"),
        ("pttl b", b":-1\r\n"),
        ("expiretime b", b":-1\r\n"),
        ("pexpiretime b", b":-1\r\n"),
        ("persist b", b":0\r\n"),
        ("expire b 10", b":1\r\n"),
        ("ttl b", b":10\r\n"),
        ("persist b", b":1\r\n"),
        ("persist b", b":0\r\n"),
        ("ttl b", b":-1\r\n"),
        ("set c v ex 100", b"+OK\r\n"),
        ("ttl c", b":100\r\n"),
        ("set c v px 1", b"+OK\r\n"),
    ]);
    std::thread::sleep(std::time::Duration::from_millis(20));
    r.script(&[
        ("ttl c", b":-2\r\n"),
        ("persist c", b":0\r\n"),
        ("ttl", b"-ERR wrong number of arguments for 'ttl' command\r\n"),
        ("pttl", b"-ERR wrong number of arguments for 'pttl' command\r\n"),
        ("expiretime", b"-ERR wrong number of arguments for 'expiretime' command\r\n"),
        ("pexpiretime", b"-ERR wrong number of arguments for 'pexpiretime' command\r\n"),
        ("persist", b"-ERR wrong number of arguments for 'persist' command\r\n"),
        ("ttl a b", b"-ERR wrong number of arguments for 'ttl' command\r\n"),
    ]);
}

#[test]
fn swapdb_flush_dbsize() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("mset a 1 b 2", b"+OK\r\n"),
        ("swapdb 0 abc", b"-ERR invalid second DB index\r\n"),
        ("swapdb abc 0", b"-ERR invalid first DB index\r\n"),
        ("swapdb 0 99999999999", b"-ERR invalid second DB index\r\n"),
        ("swapdb 99999999999 0", b"-ERR invalid first DB index\r\n"),
        ("swapdb 0 100", b"-ERR DB index is out of range\r\n"),
        ("swapdb -1 0", b"-ERR DB index is out of range\r\n"),
        ("swapdb 0 0", b"+OK\r\n"),
        ("dbsize", b":2\r\n"),
        ("swapdb 0 1", b"+OK\r\n"),
        ("dbsize", b":0\r\n"),
        ("select 1", b"+OK\r\n"),
        ("dbsize", b":2\r\n"),
        ("get a", b"$1\r\n1\r\n"),
        ("swapdb 1 0", b"+OK\r\n"),
        ("get a", b"$-1\r\n"),
        ("select 0", b"+OK\r\n"),
        ("dbsize", b":2\r\n"),
        ("flushdb foo", b"-ERR syntax error\r\n"),
        ("flushdb sync async", b"-ERR syntax error\r\n"),
        ("flushdb async", b"+OK\r\n"),
        ("dbsize", b":0\r\n"),
        ("mset a 1 b 2", b"+OK\r\n"),
        ("select 3", b"+OK\r\n"),
        ("set c 3", b"+OK\r\n"),
        ("flushdb SYNC", b"+OK\r\n"),
        ("dbsize", b":0\r\n"),
        ("select 0", b"+OK\r\n"),
        ("dbsize", b":2\r\n"),
        ("flushall sync", b"+OK\r\n"),
        ("dbsize", b":0\r\n"),
        ("mset a 1 b 2", b"+OK\r\n"),
        ("flushall ASYNC", b"+OK\r\n"),
        ("dbsize", b":0\r\n"),
        ("flushall sync async", b"-ERR syntax error\r\n"),
        ("flushall foo", b"-ERR syntax error\r\n"),
        ("flushall", b"+OK\r\n"),
        ("dbsize 1", b"-ERR wrong number of arguments for 'dbsize' command\r\n"),
        ("swapdb 0", b"-ERR wrong number of arguments for 'swapdb' command\r\n"),
    ]);
}

#[test]
fn object_cmds() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("set a hello", b"+OK\r\n"),
        ("object encoding a", b"$6\r\nembstr\r\n"),
        ("object refcount a", b":1\r\n"),
        ("object idletime a", b":0\r\n"),
        ("object freq a", b"-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n"),
        ("object encoding nokey", b"$-1\r\n"),
        ("object refcount nokey", b"$-1\r\n"),
        ("object idletime nokey", b"$-1\r\n"),
        ("object freq nokey", b"$-1\r\n"),
        ("object foo", b"-ERR unknown subcommand 'foo'. Try OBJECT HELP.\r\n"),
        ("object foo bar", b"-ERR unknown subcommand 'foo'. Try OBJECT HELP.\r\n"),
        ("object encoding", b"-ERR wrong number of arguments for 'object|encoding' command\r\n"),
        ("object encoding a b", b"-ERR wrong number of arguments for 'object|encoding' command\r\n"),
        ("object refcount", b"-ERR wrong number of arguments for 'object|refcount' command\r\n"),
        ("object idletime", b"-ERR wrong number of arguments for 'object|idletime' command\r\n"),
        ("object freq", b"-ERR wrong number of arguments for 'object|freq' command\r\n"),
        ("object help x", b"-ERR wrong number of arguments for 'object|help' command\r\n"),
        ("object", b"-ERR wrong number of arguments for 'object' command\r\n"),
        ("OBJECT HELP", b"*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+ENCODING <key>\r\n+    Return the kind of internal representation used in order to store the value\r\n+    associated with a <key>.\r\n+FREQ <key>\r\n+    Return the access frequency index of the <key>. The returned integer is\r\n+    proportional to the logarithm of the recent access frequency of the key.\r\n+IDLETIME <key>\r\n+    Return the idle time of the <key>, that is the approximated number of\r\n+    seconds elapsed since the last access to the key.\r\n+REFCOUNT <key>\r\n+    Return the number of references of the value associated with the specified\r\n+    <key>.\r\n+HELP\r\n+    Prints this help.\r\n"),
    ]);
}

#[test]
fn keys_and_scan_args() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("mset a1 1 b1 2 abc 3", b"+OK\r\n"),
        ("keys a1", b"*1\r\n$2\r\na1\r\n"),
        ("keys nomatch", b"*0\r\n"),
        ("keys [", b"*0\r\n"),
        ("keys a?c", b"*1\r\n$3\r\nabc\r\n"),
        ("keys \"a[b-c]c\"", b"*1\r\n$3\r\nabc\r\n"),
        ("keys \"\\\\a1\"", b"*1\r\n$2\r\na1\r\n"),
        ("keys", b"-ERR wrong number of arguments for 'keys' command\r\n"),
        ("keys a b", b"-ERR wrong number of arguments for 'keys' command\r\n"),
        ("scan 0 count 0", b"-ERR syntax error\r\n"),
        ("scan 0 count -1", b"-ERR syntax error\r\n"),
        ("scan 0 count abc", b"-ERR value is not an integer or out of range\r\n"),
        ("scan 0 count 1.5", b"-ERR value is not an integer or out of range\r\n"),
        ("scan 0 match", b"-ERR syntax error\r\n"),
        ("scan 0 match a count", b"-ERR syntax error\r\n"),
        ("scan 0 type", b"-ERR syntax error\r\n"),
        ("scan 0 type foo", b"*2\r\n$1\r\n0\r\n*0\r\n"),
        ("scan 0 type string match a1", b"*2\r\n$1\r\n0\r\n*1\r\n$2\r\na1\r\n"),
        ("scan 0 TYPE STRING MATCH b* COUNT 100", b"*2\r\n$1\r\n0\r\n*1\r\n$2\r\nb1\r\n"),
        ("scan 0 type hash", b"*2\r\n$1\r\n0\r\n*0\r\n"),
        ("scan 0 foo bar", b"-ERR syntax error\r\n"),
        ("scan abc", b"-ERR invalid cursor\r\n"),
        ("scan \" 0\"", b"-ERR invalid cursor\r\n"),
        ("scan 18446744073709551616", b"-ERR invalid cursor\r\n"),
        ("scan 0x1", b"-ERR invalid cursor\r\n"),
        ("scan 1.5", b"-ERR invalid cursor\r\n"),
        ("scan", b"-ERR wrong number of arguments for 'scan' command\r\n"),
        ("randomkey x", b"-ERR wrong number of arguments for 'randomkey' command\r\n"),
        ("flushall", b"+OK\r\n"),
        ("randomkey", b"$-1\r\n"),
        ("set only 1", b"+OK\r\n"),
        ("randomkey", b"$4\r\nonly\r\n"),
    ]);
}

#[test]
fn lfu_policy_and_shared_integers() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("set s hello", b"+OK\r\n"),
        ("object freq s", b"-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n"),
        ("config set maxmemory-policy allkeys-lfu", b"+OK\r\n"),
        ("set s hello", b"+OK\r\n"),
        ("object freq s", b":1\r\n"),
        ("get s", b"$5\r\nhello\r\n"),
        ("object freq s", b":2\r\n"),
        ("object idletime s", b"-ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n"),
        ("set s2 12345", b"+OK\r\n"),
        ("object freq s2", b":5\r\n"),
        ("object freq nokey", b"$-1\r\n"),
        ("object idletime nokey", b"$-1\r\n"),
        ("config set maxmemory 100mb", b"+OK\r\n"),
        ("set g 5", b"+OK\r\n"),
        ("object refcount g", b":1\r\n"),
        ("incr g", b":6\r\n"),
        ("object refcount g", b":1\r\n"),
        ("config set maxmemory-policy noeviction", b"+OK\r\n"),
        ("object refcount g", b":1\r\n"),
        ("set h 5", b"+OK\r\n"),
        ("object refcount h", b":2147483647\r\n"),
        ("config set maxmemory 0", b"+OK\r\n"),
        ("object refcount g", b":1\r\n"),
        ("object refcount h", b":2147483647\r\n"),
    ]);
}

#[test]
fn lfu_counts_each_access() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("config set maxmemory-policy allkeys-lfu", b"+OK\r\n"),
        ("config set lfu-log-factor 0", b"+OK\r\n"),
        ("set a hello", b"+OK\r\n"),
        ("object freq a", b":5\r\n"),
        ("get a", b"$5\r\nhello\r\n"),
        ("object freq a", b":6\r\n"),
        ("set a x nx", b"$-1\r\n"),
        ("object freq a", b":7\r\n"),
        ("set a y xx", b"+OK\r\n"),
        ("object freq a", b":8\r\n"),
        ("set a z get", b"$1\r\ny\r\n"),
        ("object freq a", b":10\r\n"),
        ("getset a w", b"$1\r\nz\r\n"),
        ("object freq a", b":12\r\n"),
        ("append a q", b":2\r\n"),
        ("object freq a", b":13\r\n"),
        ("strlen a", b":2\r\n"),
        ("object freq a", b":14\r\n"),
        ("getrange a 0 1", b"$2\r\nwq\r\n"),
        ("object freq a", b":15\r\n"),
        ("mget a a", b"*2\r\n$2\r\nwq\r\n$2\r\nwq\r\n"),
        ("object freq a", b":17\r\n"),
        ("exists a", b":1\r\n"),
        ("type a", b"+string\r\n"),
        ("ttl a", b":-1\r\n"),
        ("object freq a", b":17\r\n"),
        ("touch a", b":1\r\n"),
        ("object freq a", b":18\r\n"),
        ("set n 100000", b"+OK\r\n"),
        ("incr n", b":100001\r\n"),
        ("object freq n", b":6\r\n"),
        ("incrbyfloat n 1.5", b"$8\r\n100002.5\r\n"),
        ("object freq n", b":7\r\n"),
        ("mset a 1 n 2", b"+OK\r\n"),
        ("object freq n", b":8\r\n"),
        ("getex n", b"$1\r\n2\r\n"),
        ("object freq n", b":9\r\n"),
        ("getdel n", b"$1\r\n2\r\n"),
        ("set m 100000", b"+OK\r\n"),
        ("expire m 100", b":1\r\n"),
        ("object freq m", b":6\r\n"),
        ("persist m", b":1\r\n"),
        ("object freq m", b":7\r\n"),
        ("rename m m2", b"+OK\r\n"),
        ("object freq m2", b":8\r\n"),
        ("copy m2 m3", b":1\r\n"),
        ("object freq m3", b":5\r\n"),
        ("object freq m2", b":9\r\n"),
        ("move m2 1", b":1\r\n"),
        ("select 1", b"+OK\r\n"),
        ("object freq m2", b":10\r\n"),
        ("select 0", b"+OK\r\n"),
        ("setrange m3 0 x", b":6\r\n"),
        ("object freq m3", b":6\r\n"),
        ("lcs m3 m3", b"$6\r\nx00000\r\n"),
        ("object freq m3", b":8\r\n"),
        ("config set lfu-log-factor 10", b"+OK\r\n"),
        ("config set maxmemory-policy noeviction", b"+OK\r\n"),
    ]);
}

/// The keys of an array-of-bulks reply (as from KEYS), as a set.
fn key_set(reply: &[u8]) -> HashSet<String> {
    let text = String::from_utf8(reply.to_vec()).unwrap();
    let mut lines = text.split("\r\n");
    let n: usize = lines.next().unwrap()[1..].parse().unwrap();
    (0..n)
        .map(|_| {
            lines.next().unwrap();
            lines.next().unwrap().to_string()
        })
        .collect()
}

/// One SCAN call: the next cursor and the keys returned.
fn scan_once(r: &mut Raw, args: &str) -> (String, Vec<String>) {
    let reply = String::from_utf8(r.line(&format!("SCAN {args}"))).unwrap();
    let mut lines = reply.split("\r\n");
    assert_eq!(lines.next(), Some("*2"));
    lines.next();
    let cursor = lines.next().unwrap().to_string();
    let n: usize = lines.next().unwrap()[1..].parse().unwrap();
    let keys = (0..n)
        .map(|_| {
            lines.next().unwrap();
            lines.next().unwrap().to_string()
        })
        .collect();
    (cursor, keys)
}

fn mset_many(r: &mut Raw, prefix: &str, n: usize, extra: &[&str]) {
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut args = vec!["MSET".to_string()];
        for i in chunk {
            args.push(format!("{prefix}{i}"));
            args.push(i.to_string());
        }
        assert_eq!(r.call(&args), b"+OK\r\n");
    }
    for e in extra {
        r.line(e);
    }
}

#[test]
fn keys_patterns() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.expect("mset hello 1 hallo 2 hxllo 3 hllo 4 heeeello 5 user:1 a user:2 b", b"+OK\r\n");
    let cases: &[(&str, &[&str])] = &[
        ("*", &["hello", "hallo", "hxllo", "hllo", "heeeello", "user:1", "user:2"]),
        ("h?llo", &["hello", "hallo", "hxllo"]),
        ("h*llo", &["hello", "hallo", "hxllo", "hllo", "heeeello"]),
        ("h[ae]llo", &["hello", "hallo"]),
        ("h[^e]llo", &["hallo", "hxllo"]),
        ("h[a-b]llo", &["hallo"]),
        ("user:*", &["user:1", "user:2"]),
        ("nothing*", &[]),
    ];
    for (pat, want) in cases {
        let got = key_set(&r.line(&format!("KEYS {pat}")));
        let want: HashSet<String> = want.iter().map(|s| s.to_string()).collect();
        assert_eq!(got, want, "KEYS {pat}");
    }
    // Expired keys are never listed.
    r.expect("set gone 1 px 1", b"+OK\r\n");
    std::thread::sleep(Duration::from_millis(10));
    assert!(!key_set(&r.line("KEYS *")).contains("gone"));
}

#[test]
fn scan_returns_every_key_while_the_table_grows() {
    let srv = Server::start();
    let mut r = srv.raw();
    let n = 2000;
    mset_many(&mut r, "k:", n, &[]);
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let (next, keys) = scan_once(&mut r, &format!("{cursor} COUNT 10"));
        seen.extend(keys);
        calls += 1;
        // Grow the table during the scan (several rehashes happen on the way).
        if calls < 150 {
            let args: Vec<String> = std::iter::once("MSET".to_string())
                .chain((0..40).flat_map(|i| [format!("new:{calls}:{i}"), "v".to_string()]))
                .collect();
            r.call(&args);
        }
        cursor = next;
        if cursor == "0" {
            break;
        }
        assert!(calls < 100_000);
    }
    for i in 0..n {
        assert!(seen.contains(&format!("k:{i}")), "k:{i} never returned");
    }
    assert!(calls > 150, "{calls}");
    assert_eq!(r.int("DBSIZE") as usize, n + 149 * 40);
}

#[test]
fn scan_match_type_count_and_expired() {
    let srv = Server::start();
    let mut r = srv.raw();
    mset_many(&mut r, "a:", 300, &[]);
    mset_many(&mut r, "b:", 300, &[]);
    for i in 0..100 {
        r.line(&format!("SET x:{i} v PX 1"));
    }
    std::thread::sleep(Duration::from_millis(10));
    let mut all = Vec::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, keys) = scan_once(&mut r, &format!("{cursor} MATCH a:* TYPE string COUNT 50"));
        assert!(keys.iter().all(|k| k.starts_with("a:")));
        all.extend(keys);
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    let set: HashSet<_> = all.iter().cloned().collect();
    assert_eq!(set.len(), 300);
    // A large COUNT returns everything at once; expired keys are not returned.
    let (cursor, keys) = scan_once(&mut r, "0 COUNT 100000");
    assert_eq!(cursor, "0");
    assert_eq!(keys.len(), 600);
    assert!(keys.iter().all(|k| !k.starts_with("x:")));
    // Unknown type names match nothing, as in Redis 7.0.
    let (_, keys) = scan_once(&mut r, "0 COUNT 100000 TYPE nosuchtype");
    assert!(keys.is_empty());
}

#[test]
fn active_expiry_reclaims_unread_keys() {
    let srv = Server::start();
    let mut r = srv.raw();
    mset_many(&mut r, "keep:", 100, &[]);
    for i in 0..2000 {
        r.send_cmd(&["SET".to_string(), format!("tmp:{i}"), "v".into(), "PX".into(), "100".into()]);
    }
    for _ in 0..2000 {
        assert_eq!(r.read_reply(), b"+OK\r\n");
    }
    assert_eq!(r.int("DBSIZE"), 2100);
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.int("DBSIZE") > 100 {
        assert!(Instant::now() < deadline, "active expiry left {} keys", r.int("DBSIZE"));
        std::thread::sleep(Duration::from_millis(50));
    }
    r.expect("exists keep:0 keep:99", b":2\r\n");
}

#[test]
fn randomkey_skips_expired() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.expect("randomkey", b"$-1\r\n");
    mset_many(&mut r, "k", 50, &[]);
    for i in 0..50 {
        r.line(&format!("SET gone{i} v PX 1"));
    }
    std::thread::sleep(Duration::from_millis(10));
    for _ in 0..100 {
        let k = r.line("RANDOMKEY");
        assert!(k.starts_with(b"$2\r\nk") || k.starts_with(b"$3\r\nk"), "{}", common::show(&k));
    }
}

#[test]
fn idle_time_and_touch() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.expect("mset a 1 b 2 c 3", b"+OK\r\n");
    r.expect("object idletime a", b":0\r\n");
    std::thread::sleep(Duration::from_millis(2300));
    // Neither of these is an access.
    for cmd in ["exists a b c", "type a", "ttl a", "object encoding a", "object idletime a"] {
        r.line(cmd);
    }
    assert!(r.int("object idletime a") >= 2);
    r.expect("get a", b"$1\r\n1\r\n");
    r.expect("object idletime a", b":0\r\n");
    r.expect("touch b nokey", b":1\r\n");
    r.expect("object idletime b", b":0\r\n");
    assert!(r.int("object idletime c") >= 2);
    // A write replaces the value: fresh.
    r.expect("set c 4", b"+OK\r\n");
    r.expect("object idletime c", b":0\r\n");
}

#[test]
fn other_databases_expire_lazily_too() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("select 1", b"+OK\r\n"),
        ("set x old px 1", b"+OK\r\n"),
        ("set y old px 1", b"+OK\r\n"),
        ("select 0", b"+OK\r\n"),
        ("set x new", b"+OK\r\n"),
        ("set y new", b"+OK\r\n"),
    ]);
    std::thread::sleep(Duration::from_millis(10));
    r.script(&[
        ("move x 1", b":1\r\n"),
        ("copy y y db 1", b":1\r\n"),
        ("select 1", b"+OK\r\n"),
        ("mget x y", b"*2\r\n$3\r\nnew\r\n$3\r\nnew\r\n"),
        ("ttl x", b":-1\r\n"),
    ]);
}

#[test]
fn swapdb_is_seen_by_other_clients() {
    let srv = Server::start();
    let mut a = srv.raw();
    let mut b = srv.raw();
    a.expect("set k zero", b"+OK\r\n");
    b.expect("select 1", b"+OK\r\n");
    b.expect("set k one", b"+OK\r\n");
    a.expect("swapdb 0 1", b"+OK\r\n");
    a.expect("get k", b"$3\r\none\r\n");
    b.expect("get k", b"$4\r\nzero\r\n");
}

#[test]
fn flushall_async_frees_in_the_background() {
    let srv = Server::start();
    let mut r = srv.raw();
    mset_many(&mut r, "big:", 100_000, &[]);
    r.expect("select 2", b"+OK\r\n");
    mset_many(&mut r, "other:", 1000, &[]);
    r.expect("flushall async", b"+OK\r\n");
    r.expect("dbsize", b":0\r\n");
    r.expect("select 0", b"+OK\r\n");
    r.expect("dbsize", b":0\r\n");
    r.expect("set a 1", b"+OK\r\n");
    mset_many(&mut r, "big:", 1000, &[]);
    r.expect("flushdb async", b"+OK\r\n");
    r.expect("dbsize", b":0\r\n");
}

#[test]
fn lazyfree_lazy_user_flush_is_accepted() {
    let srv = Server::start_with(&["--lazyfree-lazy-user-flush", "yes"]);
    let mut r = srv.raw();
    mset_many(&mut r, "k", 1000, &[]);
    r.expect("flushall", b"+OK\r\n");
    r.expect("dbsize", b":0\r\n");
}
