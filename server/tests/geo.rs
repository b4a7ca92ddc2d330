//! Geo commands over TCP: exact replies (RESP2 and RESP3), geo sets as sorted sets, searches
//! against a brute-force model, and what the writes propagate.

use crate::common;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

fn bulks(items: &[&str]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", items.len()).into_bytes();
    for i in items {
        v.extend_from_slice(format!("${}\r\n{i}\r\n", i.len()).as_bytes());
    }
    v
}

const SICILY: &str = "GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania";

#[test]
fn basic_replies() {
    let srv = common::Server::start();
    let mut r = srv.raw();
    r.expect(SICILY, b":2\r\n");
    // The scores are Redis's 52-bit geohashes.
    r.expect("ZSCORE Sicily Palermo", b"$16\r\n3479099956230698\r\n");
    r.expect("ZSCORE Sicily Catania", b"$16\r\n3479447370796909\r\n");
    r.expect("TYPE Sicily", b"+zset\r\n");
    r.expect(
        "GEOPOS Sicily Palermo nosuch",
        b"*2\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n*-1\r\n",
    );
    r.expect("GEODIST Sicily Palermo Catania", b"$11\r\n166274.1516\r\n");
    r.expect("GEODIST Sicily Palermo Catania km", b"$8\r\n166.2742\r\n");
    r.expect("GEODIST Sicily Palermo Catania MI", b"$8\r\n103.3182\r\n");
    r.expect("GEODIST Sicily Palermo nosuch", b"$-1\r\n");
    r.expect("GEODIST nokey a b", b"$-1\r\n");
    r.expect(
        "GEOHASH Sicily Palermo Catania nosuch",
        b"*3\r\n$11\r\nsqc8b49rny0\r\n$11\r\nsqdtr74hyu0\r\n$-1\r\n",
    );
    r.expect("GEOHASH nokey a", b"*1\r\n$-1\r\n");
    r.expect("GEORADIUS Sicily 15 37 200 km ASC", &bulks(&["Catania", "Palermo"]));
    r.expect("GEORADIUS Sicily 15 37 200 km DESC", &bulks(&["Palermo", "Catania"]));
    r.expect(
        "GEORADIUS Sicily 15 37 200 km WITHDIST WITHHASH WITHCOORD COUNT 1",
        b"*1\r\n*4\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n:3479447370796909\r\n\
          *2\r\n$20\r\n15.08726745843887329\r\n$20\r\n37.50266842333162032\r\n",
    );
    r.expect("GEORADIUSBYMEMBER Sicily Palermo 100 km", &bulks(&["Palermo"]));
    r.expect(
        "GEOSEARCH Sicily FROMLONLAT 15 37 BYBOX 400 400 km ASC WITHDIST",
        b"*2\r\n*2\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n*2\r\n$7\r\nPalermo\r\n$8\r\n190.4424\r\n",
    );
    r.expect("GEOSEARCH Sicily FROMLONLAT 15 37 BYRADIUS 50 km", b"*0\r\n");
    r.expect("GEOSEARCH nokey FROMLONLAT 15 37 BYRADIUS 100 km", b"*0\r\n");
    // RESP3: coordinates are doubles, distances stay bulk strings, missing positions are nulls.
    r.line("HELLO 3");
    r.expect(
        "GEOPOS Sicily Palermo nosuch",
        b"*2\r\n*2\r\n,13.36138933897018433\r\n,38.11555639549629859\r\n_\r\n",
    );
    r.expect("GEODIST Sicily Palermo Catania km", b"$8\r\n166.2742\r\n");
    r.expect("GEOHASH Sicily nosuch", b"*1\r\n_\r\n");
    r.expect(
        "GEOSEARCH Sicily FROMMEMBER Catania BYRADIUS 10 km WITHCOORD",
        b"*1\r\n*2\r\n$7\r\nCatania\r\n*2\r\n,15.08726745843887329\r\n,37.50266842333162032\r\n",
    );
}

#[test]
fn geoadd_options_and_limits() {
    let srv = common::Server::start();
    let mut r = srv.raw();
    r.expect(SICILY, b":2\r\n");
    r.expect("GEOADD Sicily 13.361389 38.115556 Palermo", b":0\r\n");
    r.expect("GEOADD Sicily CH 13.3 38.1 Palermo", b":1\r\n");
    r.expect("GEOADD Sicily NX 1 1 Palermo 2 2 new", b":1\r\n");
    r.expect("GEOADD Sicily XX CH 13.361389 38.115556 Palermo 3 3 other", b":1\r\n");
    r.expect("ZSCORE Sicily Palermo", b"$16\r\n3479099956230698\r\n");
    r.expect("EXISTS other", b":0\r\n");
    r.expect("ZCARD Sicily", b":3\r\n");
    r.expect("GEOADD Sicily NX XX 1 2 x", b"-ERR syntax error\r\n");
    r.expect("GEOADD Sicily GT 1 2 x", b"-ERR syntax error\r\n");
    r.expect("GEOADD Sicily 1 2 x 3", b"-ERR syntax error\r\n");
    r.expect("GEOADD Sicily CH CH CH", b"-ERR syntax error\r\n");
    r.expect(
        "GEOADD k 180.0000001 0 x",
        b"-ERR invalid longitude,latitude pair 180.000000,0.000000\r\n",
    );
    r.expect(
        "GEOADD k 0 85.05112879 x",
        b"-ERR invalid longitude,latitude pair 0.000000,85.051129\r\n",
    );
    r.expect("GEOADD k 1 -inf x", b"-ERR invalid longitude,latitude pair 1.000000,-inf\r\n");
    r.expect("GEOADD k abc 1 x", b"-ERR value is not a valid float\r\n");
    // A bad pair anywhere means nothing is added.
    r.expect(
        "GEOADD k 1 2 ok 200 2 bad",
        b"-ERR invalid longitude,latitude pair 200.000000,2.000000\r\n",
    );
    r.expect("EXISTS k", b":0\r\n");
    // The corners: the top one sets the bits just above the 52 (as Redis stores it).
    r.expect("GEOADD k 180 85.05112878 ne -180 -85.05112878 sw", b":2\r\n");
    r.expect("ZSCORE k ne", b"$17\r\n13510798882111488\r\n");
    r.expect("ZSCORE k sw", b"$1\r\n0\r\n");
    r.expect("GEOPOS k ne", b"*1\r\n*2\r\n$3\r\n180\r\n$19\r\n85.0511287799999991\r\n");
    r.expect("GEOHASH k ne sw", b"*2\r\n$11\r\nbp05b5048p0\r\n$11\r\n00bh0hbj200\r\n");
    r.expect("SET str v", b"+OK\r\n");
    let wrongtype = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    r.expect("GEOADD str 1 2 m", wrongtype);
    r.expect("GEOPOS str m", wrongtype);
    r.expect("GEOSEARCH str FROMLONLAT 1 2 BYRADIUS 1 km", wrongtype);
    // Coordinates are checked before the key's type.
    r.expect("GEOADD str 200 2 m", b"-ERR invalid longitude,latitude pair 200.000000,2.000000\r\n");
}

#[test]
fn zadd_members_are_geo_members() {
    let srv = common::Server::start();
    let mut r = srv.raw();
    r.expect("ZADD z 3479099956230698 a 0 zero -1 neg 1e30 huge inf pinf", b":5\r\n");
    r.expect(
        "GEOPOS z a zero neg huge pinf",
        b"*5\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n\
          *2\r\n$22\r\n-179.99999731779098511\r\n$21\r\n-85.05112751263942528\r\n\
          *2\r\n$3\r\n180\r\n$19\r\n85.0511287799999991\r\n\
          *2\r\n$22\r\n-179.99999731779098511\r\n$21\r\n-85.05112751263942528\r\n\
          *2\r\n$22\r\n-179.99999731779098511\r\n$21\r\n-85.05112751263942528\r\n",
    );
    r.expect("GEOHASH z a", b"*1\r\n$11\r\nsqc8b49rny0\r\n");
    r.expect(
        "GEOSEARCH z FROMMEMBER a BYRADIUS 1 m WITHHASH",
        b"*1\r\n*2\r\n$1\r\na\r\n:3479099956230698\r\n",
    );
}

#[test]
fn search_errors() {
    let srv = common::Server::start();
    let mut r = srv.raw();
    r.expect(SICILY, b":2\r\n");
    let script: &[(&str, &[u8])] = &[
        ("GEORADIUS Sicily 15 37 -1 km", b"-ERR radius cannot be negative\r\n"),
        ("GEORADIUS Sicily 15 37 x km", b"-ERR need numeric radius\r\n"),
        ("GEORADIUS Sicily 15 37 1 yd", b"-ERR unsupported unit provided. please use M, KM, FT, MI\r\n"),
        ("GEORADIUS Sicily 15 37 1 km COUNT 0", b"-ERR COUNT must be > 0\r\n"),
        ("GEORADIUS Sicily 15 37 1 km COUNT x", b"-ERR value is not an integer or out of range\r\n"),
        ("GEORADIUS Sicily 15 37 1 km ANY", b"-ERR the ANY argument requires COUNT argument\r\n"),
        ("GEORADIUS Sicily 15 37 1 km BYRADIUS 1 km", b"-ERR syntax error\r\n"),
        (
            "GEORADIUS Sicily 15 37 1 km WITHDIST STORE d",
            b"-ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options\r\n",
        ),
        ("GEORADIUS_RO Sicily 15 37 1 km STORE d", b"-ERR syntax error\r\n"),
        ("GEORADIUSBYMEMBER Sicily nosuch 1 km", b"-ERR could not decode requested zset member\r\n"),
        // A missing key: the member is not looked for, and the radius not even parsed.
        ("GEORADIUSBYMEMBER nokey nosuch x yd", b"*0\r\n"),
        ("GEOSEARCH Sicily FROMMEMBER nosuch BYRADIUS 1 km", b"-ERR could not decode requested zset member\r\n"),
        ("GEOSEARCH nokey FROMMEMBER nosuch BYRADIUS 1 km", b"*0\r\n"),
        (
            "geosearch Sicily BYRADIUS 1 km ASC WITHDIST",
            b"-ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for geosearch\r\n",
        ),
        (
            "GEOSEARCH Sicily FROMLONLAT 1 2 ASC WITHDIST",
            b"-ERR exactly one of BYRADIUS and BYBOX can be specified for GEOSEARCH\r\n",
        ),
        ("GEOSEARCH Sicily FROMLONLAT 1 2 FROMMEMBER Palermo BYRADIUS 1 km", b"-ERR syntax error\r\n"),
        ("GEOSEARCH Sicily FROMLONLAT 1 2 BYRADIUS 1 km BYBOX 1 1 km", b"-ERR syntax error\r\n"),
        ("GEOSEARCH Sicily FROMLONLAT 1 2 BYBOX -1 1 km", b"-ERR height or width cannot be negative\r\n"),
        ("GEOSEARCH Sicily FROMLONLAT 1 2 BYBOX 1 x km", b"-ERR need numeric height\r\n"),
        ("GEOSEARCH Sicily FROMLONLAT 1 2 BYBOX x 1 km", b"-ERR need numeric width\r\n"),
        ("GEOSEARCH Sicily FROMLONLAT 1 2 BYRADIUS 1 km STOREDIST", b"-ERR syntax error\r\n"),
        (
            "GEOSEARCHSTORE d Sicily FROMLONLAT 1 2 BYRADIUS 1 km WITHCOORD",
            b"-ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options\r\n",
        ),
        ("GEOSEARCHSTORE d Sicily FROMLONLAT 1 2 BYRADIUS 1 km STORE x", b"-ERR syntax error\r\n"),
        ("GEODIST Sicily a b yd", b"-ERR unsupported unit provided. please use M, KM, FT, MI\r\n"),
        ("GEODIST Sicily a b km x", b"-ERR syntax error\r\n"),
    ];
    r.script(script);
}

#[test]
fn store_variants() {
    let srv = common::Server::start();
    let mut r = srv.raw();
    r.expect(SICILY, b":2\r\n");
    r.expect("GEORADIUS Sicily 15 37 200 km STORE d", b":2\r\n");
    r.expect(
        "ZRANGE d 0 -1 WITHSCORES",
        &bulks(&["Palermo", "3479099956230698", "Catania", "3479447370796909"]),
    );
    r.expect("GEORADIUS Sicily 15 37 200 km STOREDIST d", b":2\r\n");
    r.expect(
        "ZRANGE d 0 -1 WITHSCORES",
        &bulks(&["Catania", "56.441257870158204", "Palermo", "190.44242984775784"]),
    );
    r.expect(
        "GEOSEARCHSTORE d Sicily FROMMEMBER Palermo BYRADIUS 300 km COUNT 1 DESC STOREDIST",
        b":1\r\n",
    );
    r.expect("ZRANGE d 0 -1 WITHSCORES", &bulks(&["Catania", "166.27415156960032"]));
    // The destination is replaced whole, TTL included; an empty result deletes it.
    r.expect("SET d v EX 100", b"+OK\r\n");
    r.expect("GEOSEARCHSTORE d Sicily FROMLONLAT 15 37 BYRADIUS 200 km", b":2\r\n");
    r.expect("TTL d", b":-1\r\n");
    r.expect("OBJECT ENCODING d", b"$8\r\nlistpack\r\n");
    r.expect("GEOSEARCHSTORE d Sicily FROMLONLAT 15 37 BYRADIUS 1 km", b":0\r\n");
    r.expect("EXISTS d", b":0\r\n");
    r.expect("SET d v", b"+OK\r\n");
    r.expect("GEOSEARCHSTORE d nokey FROMLONLAT 15 37 BYRADIUS 1 km", b":0\r\n");
    r.expect("EXISTS d", b":0\r\n");
}

/// Searches over random points near the equator (where the 3x3 cells always cover the
/// radius) find exactly the points a brute-force scan finds, in distance order, in both
/// encodings.
#[test]
fn search_matches_brute_force() {
    let srv = common::Server::start();
    let mut c = srv.conn();
    let mut rng = SmallRng::seed_from_u64(7);
    for (key, n) in [("small", 60usize), ("big", 1500)] {
        let mut cmd = redis::cmd("GEOADD");
        cmd.arg(key);
        for i in 0..n {
            let lon: f64 = rng.gen_range(-3.0..3.0);
            let lat: f64 = rng.gen_range(-3.0..3.0);
            cmd.arg(lon).arg(lat).arg(format!("m{i}"));
        }
        let added: usize = cmd.query(&mut c).unwrap();
        assert_eq!(added, n);
        let enc: String = redis::cmd("OBJECT").arg("ENCODING").arg(key).query(&mut c).unwrap();
        assert_eq!(enc, if n < 128 { "listpack" } else { "skiplist" });
        // Every member's decoded position.
        let mut members = Vec::new();
        for i in 0..n {
            let m = format!("m{i}");
            let pos: Vec<Option<(f64, f64)>> =
                redis::cmd("GEOPOS").arg(key).arg(&m).query(&mut c).unwrap();
            members.push((m, pos[0].unwrap()));
        }
        for _ in 0..40 {
            let lon: f64 = rng.gen_range(-3.0..3.0);
            let lat: f64 = rng.gen_range(-3.0..3.0);
            let radius_km: f64 = rng.gen_range(1.0..300.0);
            let got: Vec<(String, f64)> = redis::cmd("GEOSEARCH")
                .arg(key)
                .arg("FROMLONLAT")
                .arg(lon)
                .arg(lat)
                .arg("BYRADIUS")
                .arg(radius_km)
                .arg("km")
                .arg("ASC")
                .arg("WITHDIST")
                .query(&mut c)
                .unwrap();
            let mut want: Vec<(String, f64)> = members
                .iter()
                .map(|(m, p)| (m.clone(), haversine_km(lon, lat, p.0, p.1)))
                .filter(|(_, d)| *d <= radius_km)
                .collect();
            want.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap());
            assert_eq!(got.len(), want.len(), "search at {lon},{lat} r={radius_km}");
            for (g, w) in got.iter().zip(&want) {
                assert!((g.1 - w.1).abs() < 1e-3, "{g:?} vs {w:?}");
            }
            let mut gm: Vec<&str> = got.iter().map(|g| g.0.as_str()).collect();
            let mut wm: Vec<&str> = want.iter().map(|w| w.0.as_str()).collect();
            gm.sort();
            wm.sort();
            assert_eq!(gm, wm);
            // COUNT keeps the nearest ones.
            let top: Vec<(String, f64)> = redis::cmd("GEOSEARCH")
                .arg(key)
                .arg("FROMLONLAT")
                .arg(lon)
                .arg(lat)
                .arg("BYRADIUS")
                .arg(radius_km)
                .arg("km")
                .arg("COUNT")
                .arg(3)
                .arg("WITHDIST")
                .query(&mut c)
                .unwrap();
            assert_eq!(top.len(), want.len().min(3));
            for (g, w) in top.iter().zip(&want) {
                assert!((g.1 - w.1).abs() < 1e-3);
            }
        }
    }
}

fn haversine_km(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let r = 6372797.560856;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * r * a.sqrt().asin() / 1000.0
}

#[test]
fn propagation() {
    let mut h = common::InProcess::new();
    let mut run = |line: &str| {
        h.run(line);
        String::from_utf8_lossy(&h.take_raw()).replace("\r\n", " ")
    };
    // GEOADD goes as the ZADD it turns into, options as given.
    assert!(run("GEOADD g ch 13.361389 38.115556 Palermo")
        .ends_with("*5 $4 zadd $1 g $2 ch $16 3479099956230698 $7 Palermo "));
    assert_eq!(run("GEOADD g 13.361389 38.115556 Palermo"), "");
    assert_eq!(run("GEOADD g XX 1 1 nosuch"), "");
    assert_eq!(
        run("GEOADD g NX 15.087269 37.502669 Catania"),
        "*5 $4 zadd $1 g $2 NX $16 3479447370796909 $7 Catania "
    );
    // Reads propagate nothing; stores go verbatim when they change the dataset.
    assert_eq!(run("GEOSEARCH g FROMLONLAT 15 37 BYRADIUS 200 km"), "");
    assert_eq!(
        run("GEORADIUS g 15 37 200 km STORE d"),
        "*8 $9 GEORADIUS $1 g $2 15 $2 37 $3 200 $2 km $5 STORE $1 d "
    );
    assert_eq!(
        run("GEOSEARCHSTORE d g FROMLONLAT 15 37 BYRADIUS 1 km"),
        "*9 $14 GEOSEARCHSTORE $1 d $1 g $10 FROMLONLAT $2 15 $2 37 $8 BYRADIUS $1 1 $2 km "
    );
    assert_eq!(run("GEOSEARCHSTORE d g FROMLONLAT 15 37 BYRADIUS 1 km"), "");
    assert_eq!(run("GEORADIUSBYMEMBER nokey x 1 km STORE d"), "");
}
