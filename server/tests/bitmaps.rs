//! Black-box tests of the bitmap commands. Expected replies were recorded from Redis 7.0.15
//! (`reference-redis redis PORT`) and are compared byte for byte; `differential/bitmaps.txt`
//! covers many more edge cases against a live reference.

use crate::common;

use common::Server;

#[test]
fn setbit_getbit_growth() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("setbit b 7 1", b":0\r\n"),
        ("setbit b 7 1", b":1\r\n"),
        ("setbit b 100 1", b":0\r\n"),
        ("strlen b", b":13\r\n"),
        ("getbit b 100", b":1\r\n"),
        ("getbit b 99999", b":0\r\n"),
        ("getbit nokey 1", b":0\r\n"),
        ("object encoding b", b"$3\r\nraw\r\n"),
        ("setbit b -1 1", b"-ERR bit offset is not an integer or out of range\r\n"),
        ("setbit b 4294967296 1", b"-ERR bit offset is not an integer or out of range\r\n"),
        ("setbit b 0 2", b"-ERR bit is not an integer or out of range\r\n"),
        ("set n 123", b"+OK\r\n"),
        ("setbit n 7 0", b":1\r\n"),
        ("get n", b"$3\r\n023\r\n"),
        ("rpush l x", b":1\r\n"),
        ("setbit l 0 1", b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ]);
    // The limit follows proto-max-bulk-len.
    r.expect("config set proto-max-bulk-len 1048576", b"+OK\r\n");
    r.expect("setbit b 8388608 1", b"-ERR bit offset is not an integer or out of range\r\n");
    r.expect("setbit b 8388607 1", b":0\r\n");
    r.expect("strlen b", b":1048576\r\n");
}

#[test]
fn count_pos_op() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("set s foobar", b"+OK\r\n"),
        ("bitcount s", b":26\r\n"),
        ("bitcount s 1 1", b":6\r\n"),
        ("bitcount s 5 30 bit", b":17\r\n"),
        ("bitcount s 0", b"-ERR syntax error\r\n"),
        ("bitcount nokey 0", b":0\r\n"),
        ("set p \"\\xff\\xf0\\x00\"", b"+OK\r\n"),
        ("bitpos p 0", b":12\r\n"),
        ("set ones \"\\xff\\xff\"", b"+OK\r\n"),
        ("bitpos ones 0", b":16\r\n"),
        ("bitpos ones 0 0 -1", b":-1\r\n"),
        ("bitpos ones 2", b"-ERR The bit argument must be 1 or 0.\r\n"),
        ("bitpos nokey 0", b":0\r\n"),
        ("bitpos nokey 1", b":-1\r\n"),
        ("set a \"\\xff\\x0f\"", b"+OK\r\n"),
        ("bitop and r a ones nokey", b":2\r\n"),
        ("get r", b"$2\r\n\x00\x00\r\n"),
        ("bitop not r a", b":2\r\n"),
        ("get r", b"$2\r\n\x00\xf0\r\n"),
        ("bitop not r a a", b"-ERR BITOP NOT must be called with a single source key.\r\n"),
        ("bitop or r nokey", b":0\r\n"),
        ("exists r", b":0\r\n"),
    ]);
}

#[test]
fn bitfield() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.script(&[
        ("bitfield f set u8 0 255 get u8 0", b"*2\r\n:0\r\n:255\r\n"),
        ("bitfield f incrby u8 0 10", b"*1\r\n:9\r\n"),
        ("bitfield f overflow sat incrby u8 0 300", b"*1\r\n:255\r\n"),
        ("bitfield f overflow fail incrby u8 0 1", b"*1\r\n$-1\r\n"),
        ("bitfield f set i8 #1 -128 incrby i8 #1 -1", b"*2\r\n:0\r\n:127\r\n"),
        ("bitfield f get u64 0", b"-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.\r\n"),
        ("bitfield f overflow x get u8 0", b"-ERR Invalid OVERFLOW type specified\r\n"),
        ("bitfield f get u8", b"-ERR syntax error\r\n"),
        ("bitfield_ro f get u16 0", b"*1\r\n:65407\r\n"),
        ("bitfield_ro f set u8 0 1", b"-ERR BITFIELD_RO only supports the GET subcommand\r\n"),
        ("bitfield nokey get u8 0", b"*1\r\n:0\r\n"),
        ("exists nokey", b":0\r\n"),
    ]);
}
