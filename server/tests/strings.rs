//! Black-box tests of the string commands. Expected replies were recorded from Redis 7.0.15
//! (`reference-redis redis PORT`) command by command and are compared byte for byte.

use crate::common;

use std::time::Duration;

use common::Server;

#[test]
fn set_options() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("set k v", b"+OK\r\n"),
        ("get k", b"$1\r\nv\r\n"),
        ("set k v2 XX", b"+OK\r\n"),
        ("set new v XX", b"$-1\r\n"),
        ("set new v NX", b"+OK\r\n"),
        ("set new v2 nx", b"$-1\r\n"),
        ("get new", b"$1\r\nv\r\n"),
        ("set k v nx xx", b"-ERR syntax error\r\n"),
        ("set k v xx nx", b"-ERR syntax error\r\n"),
        ("set k v NX NX", b"$-1\r\n"),
        ("set k v ex 10 px 10", b"-ERR syntax error\r\n"),
        ("set k v ex 10 exat 10", b"-ERR syntax error\r\n"),
        ("set k v pxat 10 px 10", b"-ERR syntax error\r\n"),
        ("set k v ex 10 ex 20", b"+OK\r\n"),
        ("ttl k", b":20\r\n"),
        ("set k v keepttl ex 10", b"-ERR syntax error\r\n"),
        ("set k v ex 10 keepttl", b"-ERR syntax error\r\n"),
        ("set k v keepttl", b"+OK\r\n"),
        ("ttl k", b":20\r\n"),
        ("set k v", b"+OK\r\n"),
        ("ttl k", b":-1\r\n"),
        ("set k v ex", b"-ERR syntax error\r\n"),
        ("set k v ex abc", b"-ERR value is not an integer or out of range\r\n"),
        ("set k v ex 0", b"-ERR invalid expire time in 'set' command\r\n"),
        ("set k v ex -1", b"-ERR invalid expire time in 'set' command\r\n"),
        ("set k v px 0", b"-ERR invalid expire time in 'set' command\r\n"),
        ("set k v exat 0", b"-ERR invalid expire time in 'set' command\r\n"),
        ("set k v pxat -5", b"-ERR invalid expire time in 'set' command\r\n"),
        ("set k v ex 9223372036854775", b"-ERR invalid expire time in 'set' command\r\n"),
        ("set k v ex 9223372036854776", b"-ERR invalid expire time in 'set' command\r\n"),
        ("set k v px 9223372036854775807", b"-ERR invalid expire time in 'set' command\r\n"),
        ("set k v ex 1.5", b"-ERR value is not an integer or out of range\r\n"),
        ("set k v pxat 9223372036854775807", b"+OK\r\n"),
        ("set k v persist", b"-ERR syntax error\r\n"),
        ("set k v foo", b"-ERR syntax error\r\n"),
        ("set k v get nx", b"$1\r\nv\r\n"),
        ("set k v nx get", b"$1\r\nv\r\n"),
        ("get k", b"$1\r\nv\r\n"),
        ("set k v2 nx get", b"$1\r\nv\r\n"),
        ("set k v3 xx get get", b"$1\r\nv\r\n"),
        ("set k v4 get ex 100", b"$2\r\nv3\r\n"),
        ("ttl k", b":100\r\n"),
        ("set nokey v get", b"$-1\r\n"),
        ("set nokey2 v get xx", b"$-1\r\n"),
        ("exists nokey2", b":0\r\n"),
        ("set k v exat 1", b"+OK\r\n"),
        ("exists k", b":0\r\n"),
        ("set k v pxat 1 get", b"$-1\r\n"),
        ("get k", b"$-1\r\n"),
        ("set \"\" empty", b"+OK\r\n"),
        ("get \"\"", b"$5\r\nempty\r\n"),
        ("set k", b"-ERR wrong number of arguments for 'set' command\r\n"),
        ("set k v ex 10 extra", b"-ERR syntax error\r\n"),
    ]);
}

#[test]
fn setnx_setex_psetex() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("setnx k x", b":1\r\n"),
        ("setnx k y", b":0\r\n"),
        ("get k", b"$1\r\nx\r\n"),
        ("setex k 100 v", b"+OK\r\n"),
        ("ttl k", b":100\r\n"),
        ("setex k 0 v", b"-ERR invalid expire time in 'setex' command\r\n"),
        ("setex k -5 v", b"-ERR invalid expire time in 'setex' command\r\n"),
        ("setex k abc v", b"-ERR value is not an integer or out of range\r\n"),
        ("setex k 9223372036854776 v", b"-ERR invalid expire time in 'setex' command\r\n"),
        ("psetex k 0 v", b"-ERR invalid expire time in 'psetex' command\r\n"),
        ("psetex k 100000 v2", b"+OK\r\n"),
        ("ttl k", b":100\r\n"),
        ("get k", b"$2\r\nv2\r\n"),
        ("psetex k -1 v", b"-ERR invalid expire time in 'psetex' command\r\n"),
        ("psetex k abc v", b"-ERR value is not an integer or out of range\r\n"),
        ("setex k 10", b"-ERR wrong number of arguments for 'setex' command\r\n"),
        ("psetex k 10", b"-ERR wrong number of arguments for 'psetex' command\r\n"),
        ("setnx k", b"-ERR wrong number of arguments for 'setnx' command\r\n"),
    ]);
}

#[test]
fn getex_getdel_getset() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("set k v", b"+OK\r\n"),
        ("getex k", b"$1\r\nv\r\n"),
        ("getex k persist ex 10", b"-ERR syntax error\r\n"),
        ("getex k ex 10 persist", b"-ERR syntax error\r\n"),
        ("getex k ex 10 px 10", b"-ERR syntax error\r\n"),
        ("getex k keepttl", b"-ERR syntax error\r\n"),
        ("getex k nx", b"-ERR syntax error\r\n"),
        ("getex k get", b"-ERR syntax error\r\n"),
        ("getex k ex", b"-ERR syntax error\r\n"),
        ("getex nokey ex abc", b"$-1\r\n"),
        ("getex k ex abc", b"-ERR value is not an integer or out of range\r\n"),
        ("getex k ex 0", b"-ERR invalid expire time in 'getex' command\r\n"),
        ("getex k px -1", b"-ERR invalid expire time in 'getex' command\r\n"),
        ("getex k ex 100", b"$1\r\nv\r\n"),
        ("ttl k", b":100\r\n"),
        ("getex k persist", b"$1\r\nv\r\n"),
        ("ttl k", b":-1\r\n"),
        ("getex k pxat 99999999999999", b"$1\r\nv\r\n"),
        ("pexpiretime k", b":99999999999999\r\n"),
        ("getex k exat 99999999999", b"$1\r\nv\r\n"),
        ("expiretime k", b":99999999999\r\n"),
        ("getex k exat 1", b"$1\r\nv\r\n"),
        ("exists k", b":0\r\n"),
        ("getex nokey", b"$-1\r\n"),
        ("getex nokey persist", b"$-1\r\n"),
        ("getex", b"-ERR wrong number of arguments for 'getex' command\r\n"),
        ("getdel", b"-ERR wrong number of arguments for 'getdel' command\r\n"),
        ("getdel k", b"$-1\r\n"),
        ("set k v", b"+OK\r\n"),
        ("getdel k", b"$1\r\nv\r\n"),
        ("getdel k", b"$-1\r\n"),
        ("exists k", b":0\r\n"),
        ("getset k v1", b"$-1\r\n"),
        ("getset k v2", b"$2\r\nv1\r\n"),
        ("get k", b"$2\r\nv2\r\n"),
        ("set k v ex 100", b"+OK\r\n"),
        ("getset k v3", b"$1\r\nv\r\n"),
        ("ttl k", b":-1\r\n"),
        ("getset k", b"-ERR wrong number of arguments for 'getset' command\r\n"),
        ("getset", b"-ERR wrong number of arguments for 'getset' command\r\n"),
    ]);
}

#[test]
fn encodings() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("set a 12345678901234567890123456789012345678901234", b"+OK\r\n"),
        ("object encoding a", b"$6\r\nembstr\r\n"),
        ("set a 123456789012345678901234567890123456789012345", b"+OK\r\n"),
        ("object encoding a", b"$3\r\nraw\r\n"),
        ("set a 1234", b"+OK\r\n"),
        ("object encoding a", b"$3\r\nint\r\n"),
        ("object refcount a", b":2147483647\r\n"),
        ("set a 9999", b"+OK\r\n"),
        ("object refcount a", b":2147483647\r\n"),
        ("set a 0", b"+OK\r\n"),
        ("object refcount a", b":2147483647\r\n"),
        ("set a -1", b"+OK\r\n"),
        ("object refcount a", b":1\r\n"),
        ("set a 12345", b"+OK\r\n"),
        ("object refcount a", b":1\r\n"),
        ("object encoding a", b"$3\r\nint\r\n"),
        ("append a 6", b":6\r\n"),
        ("object encoding a", b"$3\r\nraw\r\n"),
        ("object refcount a", b":1\r\n"),
        ("get a", b"$6\r\n123456\r\n"),
        ("set a 10", b"+OK\r\n"),
        ("append a \"\"", b":2\r\n"),
        ("object encoding a", b"$3\r\nraw\r\n"),
        ("append newk \"\"", b":0\r\n"),
        ("exists newk", b":1\r\n"),
        ("object encoding newk", b"$6\r\nembstr\r\n"),
        ("append newk2 123", b":3\r\n"),
        ("object encoding newk2", b"$3\r\nint\r\n"),
        ("incr newk2", b":124\r\n"),
        ("object encoding newk2", b"$3\r\nint\r\n"),
        ("object refcount newk2", b":2147483647\r\n"),
        ("set b 007", b"+OK\r\n"),
        ("object encoding b", b"$6\r\nembstr\r\n"),
        ("set b -0", b"+OK\r\n"),
        ("object encoding b", b"$6\r\nembstr\r\n"),
        ("set b +1", b"+OK\r\n"),
        ("object encoding b", b"$6\r\nembstr\r\n"),
        ("set b \" 1\"", b"+OK\r\n"),
        ("object encoding b", b"$6\r\nembstr\r\n"),
        ("set b 1.0", b"+OK\r\n"),
        ("object encoding b", b"$6\r\nembstr\r\n"),
        ("set b 9223372036854775807", b"+OK\r\n"),
        ("object encoding b", b"$3\r\nint\r\n"),
        ("set b 9223372036854775808", b"+OK\r\n"),
        ("object encoding b", b"$6\r\nembstr\r\n"),
        ("set b -9223372036854775808", b"+OK\r\n"),
        ("object encoding b", b"$3\r\nint\r\n"),
        ("set b -9223372036854775809", b"+OK\r\n"),
        ("object encoding b", b"$6\r\nembstr\r\n"),
        ("set b 12345678901234567890", b"+OK\r\n"),
        ("object encoding b", b"$6\r\nembstr\r\n"),
        ("setrange c 0 ab", b":2\r\n"),
        ("object encoding c", b"$3\r\nraw\r\n"),
        ("set d 1", b"+OK\r\n"),
        ("setrange d 0 \"\"", b":1\r\n"),
        ("object encoding d", b"$3\r\nint\r\n"),
        ("setrange d 0 2", b":1\r\n"),
        ("object encoding d", b"$3\r\nraw\r\n"),
        ("get d", b"$1\r\n2\r\n"),
        ("incrbyfloat f 1", b"$1\r\n1\r\n"),
        ("object encoding f", b"$6\r\nembstr\r\n"),
        ("object refcount f", b":1\r\n"),
        ("incr f", b":2\r\n"),
        ("object encoding f", b"$3\r\nint\r\n"),
        ("mset m1 1 m2 x", b"+OK\r\n"),
        ("object encoding m1", b"$3\r\nint\r\n"),
        ("object encoding m2", b"$6\r\nembstr\r\n"),
        ("getset m2 2", b"$1\r\nx\r\n"),
        ("object encoding m2", b"$3\r\nint\r\n"),
        ("setex s 100 3", b"+OK\r\n"),
        ("object encoding s", b"$3\r\nint\r\n"),
        ("set a2 short", b"+OK\r\n"),
        ("append a2 er", b":7\r\n"),
        ("object encoding a2", b"$3\r\nraw\r\n"),
        ("copy a2 a3", b":1\r\n"),
        ("object encoding a3", b"$3\r\nraw\r\n"),
        ("set n 5", b"+OK\r\n"),
        ("copy n n2", b":1\r\n"),
        ("object refcount n2", b":1\r\n"),
        ("object encoding n2", b"$3\r\nint\r\n"),
        ("object refcount n", b":2147483647\r\n"),
        ("rename n n3", b"+OK\r\n"),
        ("object refcount n3", b":2147483647\r\n"),
    ]);
}

#[test]
fn incr_decr() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("incr k", b":1\r\n"),
        ("incr k", b":2\r\n"),
        ("decr k", b":1\r\n"),
        ("incrby k 10", b":11\r\n"),
        ("decrby k 3", b":8\r\n"),
        ("incrby k -3", b":5\r\n"),
        ("decrby k -3", b":8\r\n"),
        ("get k", b"$1\r\n8\r\n"),
        ("set k 10", b"+OK\r\n"),
        ("incrby k abc", b"-ERR value is not an integer or out of range\r\n"),
        ("incrby k 01", b"-ERR value is not an integer or out of range\r\n"),
        ("incrby k +1", b"-ERR value is not an integer or out of range\r\n"),
        ("incrby k \" 1\"", b"-ERR value is not an integer or out of range\r\n"),
        ("incrby k 1.5", b"-ERR value is not an integer or out of range\r\n"),
        ("incrby k \"\"", b"-ERR value is not an integer or out of range\r\n"),
        ("incrby k 9223372036854775808", b"-ERR value is not an integer or out of range\r\n"),
        ("incrby k 9223372036854775807", b"-ERR increment or decrement would overflow\r\n"),
        ("decrby k -9223372036854775808", b"-ERR decrement would overflow\r\n"),
        ("decrby k 9223372036854775807", b":-9223372036854775797\r\n"),
        ("decrby k 9223372036854775807", b"-ERR increment or decrement would overflow\r\n"),
        ("set k 9223372036854775807", b"+OK\r\n"),
        ("incr k", b"-ERR increment or decrement would overflow\r\n"),
        ("incrby k 0", b":9223372036854775807\r\n"),
        ("set k -9223372036854775808", b"+OK\r\n"),
        ("decr k", b"-ERR increment or decrement would overflow\r\n"),
        ("decrby k 1", b"-ERR increment or decrement would overflow\r\n"),
        ("incrby k -1", b"-ERR increment or decrement would overflow\r\n"),
        ("set k abc", b"+OK\r\n"),
        ("incr k", b"-ERR value is not an integer or out of range\r\n"),
        ("decr k", b"-ERR value is not an integer or out of range\r\n"),
        ("set k \" 1\"", b"+OK\r\n"),
        ("incr k", b"-ERR value is not an integer or out of range\r\n"),
        ("set k 1.5", b"+OK\r\n"),
        ("incr k", b"-ERR value is not an integer or out of range\r\n"),
        ("set k \"\"", b"+OK\r\n"),
        ("incr k", b"-ERR value is not an integer or out of range\r\n"),
        ("set k 01", b"+OK\r\n"),
        ("incr k", b"-ERR value is not an integer or out of range\r\n"),
        ("set k -0", b"+OK\r\n"),
        ("incr k", b"-ERR value is not an integer or out of range\r\n"),
        ("set k 00", b"+OK\r\n"),
        ("decr k", b"-ERR value is not an integer or out of range\r\n"),
        ("set k 5", b"+OK\r\n"),
        ("expire k 100", b":1\r\n"),
        ("incr k", b":6\r\n"),
        ("ttl k", b":100\r\n"),
        ("incr", b"-ERR wrong number of arguments for 'incr' command\r\n"),
        ("incr a b", b"-ERR wrong number of arguments for 'incr' command\r\n"),
        ("decr", b"-ERR wrong number of arguments for 'decr' command\r\n"),
        ("incrby k", b"-ERR wrong number of arguments for 'incrby' command\r\n"),
        ("decrby k", b"-ERR wrong number of arguments for 'decrby' command\r\n"),
    ]);
}

#[test]
fn incrbyfloat() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("set k 10.5", b"+OK\r\n"),
        ("incrbyfloat k 0.1", b"$4\r\n10.6\r\n"),
        ("incrbyfloat k -5", b"$3\r\n5.6\r\n"),
        ("incrbyfloat k 2.0e2", b"$21\r\n205.60000000000000001\r\n"),
        ("incrbyfloat k 5.0e3", b"$22\r\n5205.60000000000000009\r\n"),
        ("set k 5.0e3", b"+OK\r\n"),
        ("incrbyfloat k 2.0e2", b"$4\r\n5200\r\n"),
        ("set k 1", b"+OK\r\n"),
        ("incrbyfloat k abc", b"-ERR value is not a valid float\r\n"),
        ("incrbyfloat k inf", b"-ERR increment would produce NaN or Infinity\r\n"),
        ("incrbyfloat k -inf", b"-ERR increment would produce NaN or Infinity\r\n"),
        ("incrbyfloat k nan", b"-ERR value is not a valid float\r\n"),
        ("incrbyfloat k \" 1\"", b"-ERR value is not a valid float\r\n"),
        ("incrbyfloat k \"1 \"", b"-ERR value is not a valid float\r\n"),
        ("incrbyfloat k \"\"", b"-ERR value is not a valid float\r\n"),
        ("incrbyfloat k 1e5", b"$6\r\n100001\r\n"),
        ("incrbyfloat k 0.1", b"$24\r\n100001.10000000000000142\r\n"),
        ("set k abc", b"+OK\r\n"),
        ("incrbyfloat k 1", b"-ERR value is not a valid float\r\n"),
        ("set k \"\"", b"+OK\r\n"),
        ("incrbyfloat k 1", b"-ERR value is not a valid float\r\n"),
        ("set k inf", b"+OK\r\n"),
        ("incrbyfloat k 1", b"-ERR increment would produce NaN or Infinity\r\n"),
        ("incrbyfloat nk 3.0000", b"$1\r\n3\r\n"),
        ("incrbyfloat nk -3", b"$1\r\n0\r\n"),
        ("incrbyfloat nk 1.1e-5", b"$8\r\n0.000011\r\n"),
        ("incrbyfloat nk 0x10", b"$9\r\n16.000011\r\n"),
        ("incrbyfloat nk 1e400", b"$401\r\n10000000000000000000281880683947586514586453433629052038625910693539685534008629862039363994848324160522094053927317616200295822777259255734023828976593340661017797447434546173917862448116674971723778943824391593338047470675026246684401359237513603830343735485505244955964979021825038280091068414947402456898653040951017512658092615827588920183472511643316591362664138176309734806343732497430221946880\r\n"),
        ("set k 1e300", b"+OK\r\n"),
        ("incrbyfloat k 1e308", b"$309\r\n100000000999999999992208821652560991619507941982454427709513004695619745543315401946979888577681368913024818507473429515680246928948970815697542724817702001449649450154407301965931544735918128274260603212428788523362427337480883696729230732485071410664163982713448349919481495577038843432194849199592078049280\r\n"),
        ("set k 1", b"+OK\r\n"),
        ("expire k 100", b":1\r\n"),
        ("incrbyfloat k 1", b"$1\r\n2\r\n"),
        ("ttl k", b":100\r\n"),
        ("incrbyfloat k", b"-ERR wrong number of arguments for 'incrbyfloat' command\r\n"),
        ("incrbyfloat", b"-ERR wrong number of arguments for 'incrbyfloat' command\r\n"),
    ]);
}

#[test]
fn getrange_strlen() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("set k \"Hello World\"", b"+OK\r\n"),
        ("getrange k 0 4", b"$5\r\nHello\r\n"),
        ("getrange k -5 -1", b"$5\r\nWorld\r\n"),
        ("getrange k 5 2", b"$0\r\n\r\n"),
        ("getrange k 0 1000", b"$11\r\nHello World\r\n"),
        ("getrange k -100 -50", b"$1\r\nH\r\n"),
        ("getrange k -100 100", b"$11\r\nHello World\r\n"),
        ("getrange k -1 -5", b"$0\r\n\r\n"),
        ("getrange k 20 30", b"$0\r\n\r\n"),
        ("getrange k 10 10", b"$1\r\nd\r\n"),
        ("getrange k x 1", b"-ERR value is not an integer or out of range\r\n"),
        ("getrange k 1 x", b"-ERR value is not an integer or out of range\r\n"),
        ("getrange k 0 9223372036854775807", b"$11\r\nHello World\r\n"),
        ("getrange k -9223372036854775808 -1", b"$11\r\nHello World\r\n"),
        ("getrange k 0 9223372036854775808", b"-ERR value is not an integer or out of range\r\n"),
        ("getrange nokey 0 10", b"$0\r\n\r\n"),
        ("getrange nokey x 10", b"-ERR value is not an integer or out of range\r\n"),
        ("set k \"\"", b"+OK\r\n"),
        ("getrange k 0 -1", b"$0\r\n\r\n"),
        ("set n 12345", b"+OK\r\n"),
        ("getrange n 1 2", b"$2\r\n23\r\n"),
        ("getrange n -2 -1", b"$2\r\n45\r\n"),
        ("substr n 0 1", b"$2\r\n12\r\n"),
        ("substr n x 1", b"-ERR value is not an integer or out of range\r\n"),
        ("strlen n", b":5\r\n"),
        ("set k \"Hello World\"", b"+OK\r\n"),
        ("strlen k", b":11\r\n"),
        ("strlen nokey", b":0\r\n"),
        ("set k \"\"", b"+OK\r\n"),
        ("strlen k", b":0\r\n"),
        ("getrange k 0", b"-ERR wrong number of arguments for 'getrange' command\r\n"),
        ("substr k 0", b"-ERR wrong number of arguments for 'substr' command\r\n"),
        ("strlen", b"-ERR wrong number of arguments for 'strlen' command\r\n"),
        ("strlen a b", b"-ERR wrong number of arguments for 'strlen' command\r\n"),
    ]);
}

#[test]
fn setrange_append() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("append a hello", b":5\r\n"),
        ("append a \" world\"", b":11\r\n"),
        ("get a", b"$11\r\nhello world\r\n"),
        ("strlen a", b":11\r\n"),
        ("setrange a 6 WORLD", b":11\r\n"),
        ("get a", b"$11\r\nhello WORLD\r\n"),
        ("setrange a 20 pad", b":23\r\n"),
        ("get a", b"$23\r\nhello WORLD\x00\x00\x00\x00\x00\x00\x00\x00\x00pad\r\n"),
        ("setrange nokey2 0 \"\"", b":0\r\n"),
        ("exists nokey2", b":0\r\n"),
        ("setrange nokey3 3 x", b":4\r\n"),
        ("get nokey3", b"$4\r\n\x00\x00\x00x\r\n"),
        ("setrange a -1 x", b"-ERR offset is out of range\r\n"),
        ("setrange a x x", b"-ERR value is not an integer or out of range\r\n"),
        ("setrange a 1.5 x", b"-ERR value is not an integer or out of range\r\n"),
        (
            "setrange a 536870912 x",
            b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
        ),
        (
            "setrange a 536870911 xx",
            b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
        ),
        (
            "setrange a 9223372036854775807 x",
            b"-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
        ),
        ("setrange a 536870912 \"\"", b":23\r\n"),
        ("setrange nokey4 536870912 \"\"", b":0\r\n"),
        ("exists nokey4", b":0\r\n"),
        ("set n 1234", b"+OK\r\n"),
        ("setrange n 1 x", b":4\r\n"),
        ("get n", b"$4\r\n1x34\r\n"),
        ("set n 1234", b"+OK\r\n"),
        ("append n 5", b":5\r\n"),
        ("get n", b"$5\r\n12345\r\n"),
        ("incr n", b":12346\r\n"),
        ("set k v", b"+OK\r\n"),
        ("expire k 100", b":1\r\n"),
        ("append k x", b":2\r\n"),
        ("setrange k 0 y", b":2\r\n"),
        ("ttl k", b":100\r\n"),
        ("get k", b"$2\r\nyx\r\n"),
        ("append k", b"-ERR wrong number of arguments for 'append' command\r\n"),
        ("setrange k 0", b"-ERR wrong number of arguments for 'setrange' command\r\n"),
        ("append", b"-ERR wrong number of arguments for 'append' command\r\n"),
    ]);
}

#[test]
fn mset_mget() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("mset a 1 b 2 c 3", b"+OK\r\n"),
        ("mget a b c nokey", b"*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$-1\r\n"),
        ("mset a 1 b", b"-ERR wrong number of arguments for 'mset' command\r\n"),
        ("mset a", b"-ERR wrong number of arguments for 'mset' command\r\n"),
        ("msetnx a 1 d 4", b":0\r\n"),
        ("exists d", b":0\r\n"),
        ("msetnx d 4 e 5", b":1\r\n"),
        ("mget d e", b"*2\r\n$1\r\n4\r\n$1\r\n5\r\n"),
        ("msetnx f 1 f 2", b":1\r\n"),
        ("get f", b"$1\r\n2\r\n"),
        ("msetnx g 1 h", b"-ERR wrong number of arguments for 'msetnx' command\r\n"),
        ("mset k v k w", b"+OK\r\n"),
        ("get k", b"$1\r\nw\r\n"),
        ("set x 1", b"+OK\r\n"),
        ("expire x 100", b":1\r\n"),
        ("mset x 2", b"+OK\r\n"),
        ("ttl x", b":-1\r\n"),
        ("mget", b"-ERR wrong number of arguments for 'mget' command\r\n"),
    ]);
}

#[test]
fn lcs() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("mset key1 ohmytext key2 mynewtext", b"+OK\r\n"),
        ("lcs key1 key2", b"$6\r\nmytext\r\n"),
        ("lcs key1 key2 len", b":6\r\n"),
        ("LCS key1 key2 LEN", b":6\r\n"),
        ("lcs key1 key2 idx", b"*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n"),
        ("lcs key1 key2 idx minmatchlen 4", b"*4\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n$3\r\nlen\r\n:6\r\n"),
        ("lcs key1 key2 idx minmatchlen 4 withmatchlen", b"*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n"),
        ("lcs key1 key2 idx withmatchlen", b"*4\r\n$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n*3\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n:2\r\n$3\r\nlen\r\n:6\r\n"),
        ("lcs key1 key2 len idx", b"-ERR If you want both the length and indexes, please just use IDX.\r\n"),
        ("lcs key1 key2 idx len", b"-ERR If you want both the length and indexes, please just use IDX.\r\n"),
        ("lcs key1 key2 minmatchlen", b"-ERR syntax error\r\n"),
        ("lcs key1 key2 minmatchlen abc", b"-ERR value is not an integer or out of range\r\n"),
        ("lcs key1 key2 minmatchlen -5 idx", b"*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n"),
        ("lcs key1 key2 foo", b"-ERR syntax error\r\n"),
        ("lcs key1 nokey", b"$0\r\n\r\n"),
        ("lcs key1 nokey idx", b"*4\r\n$7\r\nmatches\r\n*0\r\n$3\r\nlen\r\n:0\r\n"),
        ("lcs nokey nokey2 len", b":0\r\n"),
        ("lcs key1 key2 len len withmatchlen", b":6\r\n"),
        ("lcs key1 key2 minmatchlen 1 withmatchlen", b"$6\r\nmytext\r\n"),
        ("set n1 12345", b"+OK\r\n"),
        ("set n2 2x4", b"+OK\r\n"),
        ("lcs n1 n2", b"$2\r\n24\r\n"),
        ("lcs n1 n2 idx withmatchlen", b"*4\r\n$7\r\nmatches\r\n*2\r\n*3\r\n*2\r\n:3\r\n:3\r\n*2\r\n:2\r\n:2\r\n:1\r\n*3\r\n*2\r\n:1\r\n:1\r\n*2\r\n:0\r\n:0\r\n:1\r\n$3\r\nlen\r\n:2\r\n"),
        ("set a1 abcabcabc", b"+OK\r\n"),
        ("set a2 cbacbacba", b"+OK\r\n"),
        ("lcs a1 a2 idx withmatchlen", b"*4\r\n$7\r\nmatches\r\n*5\r\n*3\r\n*2\r\n:8\r\n:8\r\n*2\r\n:6\r\n:6\r\n:1\r\n*3\r\n*2\r\n:7\r\n:7\r\n*2\r\n:4\r\n:4\r\n:1\r\n*3\r\n*2\r\n:6\r\n:6\r\n*2\r\n:2\r\n:2\r\n:1\r\n*3\r\n*2\r\n:4\r\n:4\r\n*2\r\n:1\r\n:1\r\n:1\r\n*3\r\n*2\r\n:2\r\n:2\r\n*2\r\n:0\r\n:0\r\n:1\r\n$3\r\nlen\r\n:5\r\n"),
        ("lcs a2 a1 idx withmatchlen", b"*4\r\n$7\r\nmatches\r\n*5\r\n*3\r\n*2\r\n:8\r\n:8\r\n*2\r\n:6\r\n:6\r\n:1\r\n*3\r\n*2\r\n:7\r\n:7\r\n*2\r\n:4\r\n:4\r\n:1\r\n*3\r\n*2\r\n:6\r\n:6\r\n*2\r\n:2\r\n:2\r\n:1\r\n*3\r\n*2\r\n:4\r\n:4\r\n*2\r\n:1\r\n:1\r\n:1\r\n*3\r\n*2\r\n:2\r\n:2\r\n*2\r\n:0\r\n:0\r\n:1\r\n$3\r\nlen\r\n:5\r\n"),
        ("lcs a1 a1 idx withmatchlen", b"*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:0\r\n:8\r\n*2\r\n:0\r\n:8\r\n:9\r\n$3\r\nlen\r\n:9\r\n"),
        ("lcs key1", b"-ERR wrong number of arguments for 'lcs' command\r\n"),
        ("lcs", b"-ERR wrong number of arguments for 'lcs' command\r\n"),
    ]);
}

#[test]
fn arity_errors() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("get", b"-ERR wrong number of arguments for 'get' command\r\n"),
        ("get a b", b"-ERR wrong number of arguments for 'get' command\r\n"),
        ("getdel", b"-ERR wrong number of arguments for 'getdel' command\r\n"),
        ("getex", b"-ERR wrong number of arguments for 'getex' command\r\n"),
        ("getrange a 1", b"-ERR wrong number of arguments for 'getrange' command\r\n"),
        ("getset a", b"-ERR wrong number of arguments for 'getset' command\r\n"),
        ("append a", b"-ERR wrong number of arguments for 'append' command\r\n"),
        ("decr", b"-ERR wrong number of arguments for 'decr' command\r\n"),
        ("decr a b", b"-ERR wrong number of arguments for 'decr' command\r\n"),
        ("decrby a", b"-ERR wrong number of arguments for 'decrby' command\r\n"),
        ("incr", b"-ERR wrong number of arguments for 'incr' command\r\n"),
        ("incrby a", b"-ERR wrong number of arguments for 'incrby' command\r\n"),
        ("incrbyfloat a", b"-ERR wrong number of arguments for 'incrbyfloat' command\r\n"),
        ("lcs a", b"-ERR wrong number of arguments for 'lcs' command\r\n"),
        ("mget", b"-ERR wrong number of arguments for 'mget' command\r\n"),
        ("mset a", b"-ERR wrong number of arguments for 'mset' command\r\n"),
        ("msetnx a", b"-ERR wrong number of arguments for 'msetnx' command\r\n"),
        ("psetex a 1", b"-ERR wrong number of arguments for 'psetex' command\r\n"),
        ("setex a 1", b"-ERR wrong number of arguments for 'setex' command\r\n"),
        ("setnx a", b"-ERR wrong number of arguments for 'setnx' command\r\n"),
        ("setrange a 1", b"-ERR wrong number of arguments for 'setrange' command\r\n"),
        ("strlen", b"-ERR wrong number of arguments for 'strlen' command\r\n"),
        ("substr a 1", b"-ERR wrong number of arguments for 'substr' command\r\n"),
        ("set a", b"-ERR wrong number of arguments for 'set' command\r\n"),
    ]);
}

#[test]
fn px_expiry_then_gone() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.expect("set k v px 100", b"+OK\r\n");
    r.expect("set k2 v ex 100", b"+OK\r\n");
    let pttl = r.int("pttl k");
    assert!((1..=100).contains(&pttl), "{pttl}");
    let pttl = r.int("pttl k2");
    assert!((99_000..=100_000).contains(&pttl), "{pttl}");
    std::thread::sleep(Duration::from_millis(150));
    r.expect("get k", b"$-1\r\n");
    r.expect("exists k", b":0\r\n");
    r.expect("ttl k", b":-2\r\n");
    r.expect("get k2", b"$1\r\nv\r\n");
    // SET without KEEPTTL drops the expiry; GETEX PERSIST too.
    r.expect("set k2 w", b"+OK\r\n");
    r.expect("ttl k2", b":-1\r\n");
}

#[test]
fn redis_crate_client() {
    let srv = Server::start();
    let mut c = srv.conn();
    let () = redis::cmd("SET").arg("a").arg("1").query(&mut c).unwrap();
    let n: i64 = redis::cmd("INCRBY").arg("a").arg(41).query(&mut c).unwrap();
    assert_eq!(n, 42);
    let v: Vec<Option<String>> = redis::cmd("MGET").arg("a").arg("nokey").query(&mut c).unwrap();
    assert_eq!(v, [Some("42".to_string()), None]);
    let f: f64 = redis::cmd("INCRBYFLOAT").arg("a").arg(0.5).query(&mut c).unwrap();
    assert_eq!(f, 42.5);
    let e = redis::cmd("INCR").arg("a").query::<i64>(&mut c).unwrap_err();
    assert_eq!(e.detail(), Some("value is not an integer or out of range"));
}

#[tokio::test]
async fn redis_crate_async_client() {
    let srv = Server::start();
    let mut c = srv.async_conn().await;
    let () =
        redis::cmd("SET").arg("k").arg("v").arg("EX").arg(100).query_async(&mut c).await.unwrap();
    let v: Option<String> = redis::cmd("GETDEL").arg("k").query_async(&mut c).await.unwrap();
    assert_eq!(v.as_deref(), Some("v"));
    let n: i64 = redis::cmd("APPEND").arg("k").arg("abc").query_async(&mut c).await.unwrap();
    assert_eq!(n, 3);
}

/// A tiny deterministic generator for the model tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn append_setrange_getrange_against_model() {
    let srv = Server::start();
    let mut r = srv.raw();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut model: Option<Vec<u8>> = None;
    for step in 0..2000 {
        let data: Vec<u8> = (0..rng.below(20)).map(|_| b'a' + rng.below(26) as u8).collect();
        match rng.below(6) {
            0 | 1 => {
                let m = model.get_or_insert_with(Vec::new);
                m.extend_from_slice(&data);
                let want = format!(":{}\r\n", m.len());
                assert_eq!(
                    r.call(&[b"APPEND".as_slice(), b"k", &data]),
                    want.as_bytes(),
                    "step {step}"
                );
            }
            2 => {
                let off = rng.below(300) as usize;
                let len = model.as_ref().map_or(0, Vec::len);
                if !data.is_empty() {
                    let m = model.get_or_insert_with(Vec::new);
                    if m.len() < off + data.len() {
                        m.resize(off + data.len(), 0);
                    }
                    m[off..off + data.len()].copy_from_slice(&data);
                }
                let want = format!(":{}\r\n", model.as_ref().map_or(len, Vec::len));
                let o = off.to_string();
                assert_eq!(
                    r.call(&[b"SETRANGE".as_slice(), b"k", o.as_bytes(), &data]),
                    want.as_bytes()
                );
            }
            3 => {
                let (a, b) = (rng.below(400) as i64 - 200, rng.below(400) as i64 - 200);
                let m = model.clone().unwrap_or_default();
                let len = m.len() as i64;
                let (mut s, mut e) =
                    (if a < 0 { len + a } else { a }, if b < 0 { len + b } else { b });
                let want = if a < 0 && b < 0 && a > b {
                    Vec::new()
                } else {
                    s = s.max(0);
                    e = e.max(0).min(len - 1);
                    if s > e || len == 0 {
                        Vec::new()
                    } else {
                        m[s as usize..=e as usize].to_vec()
                    }
                };
                let mut reply = format!("${}\r\n", want.len()).into_bytes();
                reply.extend_from_slice(&want);
                reply.extend_from_slice(b"\r\n");
                assert_eq!(r.line(&format!("GETRANGE k {a} {b}")), reply, "step {step}");
            }
            4 => {
                let want = format!(":{}\r\n", model.as_ref().map_or(0, Vec::len));
                assert_eq!(r.line("STRLEN k"), want.as_bytes());
            }
            _ => {
                if rng.below(10) == 0 {
                    r.line("DEL k");
                    model = None;
                }
            }
        }
    }
}

#[test]
fn long_strings() {
    let srv = Server::start();
    let mut r = srv.raw();
    let big = vec![b'x'; 100_000];
    assert_eq!(r.call(&[b"SET".as_slice(), b"big", &big]), b"+OK\r\n");
    r.expect("object encoding big", b"$3\r\nraw\r\n");
    assert_eq!(r.call(&[b"APPEND".as_slice(), b"big", &big]), b":200000\r\n");
    r.expect("setrange big 1000000 y", b":1000001\r\n");
    r.expect("getrange big 999999 -1", b"$2\r\n\x00y\r\n");
    r.expect("strlen big", b":1000001\r\n");
    let got = r.line("get big");
    assert_eq!(&got[..11], b"$1000001\r\nx");
}
