//! ACL users over the wire: what several connections see (AUTH, closed connections, EXEC after
//! a rule change, scripts), the ACL log, the ACL file, `user` lines in the config file and
//! CONFIG REWRITE, `requirepass`. Replies that one connection can compare with Redis are in
//! `differential/acl.txt`.

use crate::common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{show, start_fails, ConfServer, Conn, Raw, Server, TempDir};

/// Whether the server closes this connection (within two seconds).
fn closed(c: &mut Conn) -> bool {
    c.closed_within(Duration::from_secs(2))
}

/// The words of an ACL rules string, as a set (Redis lists single commands in its hash table's
/// order, Vireo in name order).
fn words(reply: &[u8]) -> BTreeSet<String> {
    String::from_utf8_lossy(reply).split_whitespace().map(str::to_string).collect()
}

/// The `commands` field of ACL GETUSER on RESP2.
fn commands_of(r: &mut Raw, user: &str) -> Vec<u8> {
    let reply = r.call(&["ACL", "GETUSER", user]);
    let text = String::from_utf8_lossy(&reply).to_string();
    let lines: Vec<&str> = text.split("\r\n").collect();
    let at = lines.iter().position(|l| *l == "commands").expect("commands field");
    lines[at + 2].as_bytes().to_vec()
}

#[test]
fn rules_naming_several_commands_describe_the_same_set_as_redis() {
    let Some(reference) = Server::start_reference("ACL descriptions") else { return };
    let vireo = Server::start();
    let cases: &[&[&str]] = &[
        &["-@all", "+get", "+set", "+incr", "+hget", "+lpush", "+zadd"],
        &["-@all", "+@string", "-@read"],
        &["-@all", "+@read", "-@string"],
        &["+@all", "-@dangerous", "+flushall", "-get", "+config|get"],
        &["-@all", "+@hash", "+@list", "-hset", "+client|id", "+select|0", "+select|1"],
        &["-@all", "+@admin", "-config", "+config|get"],
        &["nocommands", "+@geo", "+@bitmap", "-@write"],
    ];
    for rules in cases {
        let mut want = Vec::new();
        for srv in [&reference, &vireo] {
            let mut r = srv.raw();
            let mut args = vec!["ACL", "SETUSER", "t", "reset"];
            args.extend_from_slice(rules);
            assert_eq!(r.call(&args), b"+OK\r\n");
            let described = commands_of(&mut r, "t");
            // Applying the description to a fresh user gives the same description again.
            let mut again = vec!["ACL".to_string(), "SETUSER".into(), "u".into(), "reset".into()];
            again.extend(String::from_utf8_lossy(&described).split(' ').map(str::to_string));
            assert_eq!(r.call(&again), b"+OK\r\n");
            assert_eq!(words(&commands_of(&mut r, "u")), words(&described), "{rules:?}");
            want.push(words(&described));
        }
        assert_eq!(want[0], want[1], "rules {rules:?}");
    }
}

#[test]
fn a_user_runs_only_what_its_rules_allow() {
    let srv = Server::start();
    let mut admin = srv.raw();
    admin.expect(
        "ACL SETUSER app on >s3cret ~app:* %R~shared:* &news.* +@read +@write -flushdb +publish \
         +client|list",
        b"+OK\r\n",
    );
    let mut app = srv.raw();
    app.expect("AUTH app s3cret", b"+OK\r\n");
    app.expect(
        "ACL WHOAMI",
        b"-NOPERM this user has no permissions to run the 'acl|whoami' command\r\n",
    );
    app.expect("SET app:1 v", b"+OK\r\n");
    app.expect("GET app:1", b"$1\r\nv\r\n");
    app.expect("GET shared:1", b"$-1\r\n");
    let key_err: &[u8] =
        b"-NOPERM this user has no permissions to access one of the keys used as arguments\r\n";
    app.expect("SET shared:1 v", key_err);
    app.expect("COPY app:1 shared:2", key_err);
    app.expect("COPY shared:1 app:2", b":0\r\n");
    app.expect("FLUSHDB", b"-NOPERM this user has no permissions to run the 'flushdb' command\r\n");
    app.expect("PUBLISH news.x hi", b":0\r\n");
    app.expect(
        "PUBLISH sport hi",
        b"-NOPERM this user has no permissions to access one of the channels used as arguments\r\n",
    );
    // CLIENT LIST shows the user; a denied subcommand names itself.
    let list = String::from_utf8_lossy(&app.line("CLIENT LIST")).to_string();
    assert!(list.contains(" user=app "), "{list}");
    app.expect(
        "CLIENT KILL ID 1",
        b"-NOPERM this user has no permissions to run the 'client|kill' command\r\n",
    );
    // A rule change applies to connections already authenticated.
    admin.expect("ACL SETUSER app -get", b"+OK\r\n");
    app.expect("GET app:1", b"-NOPERM this user has no permissions to run the 'get' command\r\n");
    admin.expect("ACL SETUSER app +get", b"+OK\r\n");
    app.expect("GET app:1", b"$1\r\nv\r\n");
    // A user turned off keeps its connections but cannot authenticate again.
    admin.expect("ACL SETUSER app off", b"+OK\r\n");
    app.expect("GET app:1", b"$1\r\nv\r\n");
    let mut late = srv.raw();
    late.expect(
        "AUTH app s3cret",
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    // RESET goes back to the default user.
    app.expect("RESET", b"+RESET\r\n");
    let who = app.line("ACL WHOAMI");
    assert_eq!(who, b"$7\r\ndefault\r\n");
}

#[test]
fn deleting_a_user_closes_its_connections() {
    let srv = Server::start();
    let mut admin = srv.raw();
    admin.expect("ACL SETUSER a on nopass ~* &* +@all", b"+OK\r\n");
    admin.expect("ACL SETUSER b on nopass ~* &* +@all", b"+OK\r\n");
    let mut a = Conn::new(&srv);
    a.expect("AUTH a x", b"+OK\r\n");
    let mut b = Conn::new(&srv);
    b.expect("AUTH b x", b"+OK\r\n");
    admin.expect("ACL DELUSER a nosuch", b":1\r\n");
    assert!(closed(&mut a), "a's connection stays open");
    b.expect("PING", b"+PONG\r\n");
    // Deleting one's own user: the reply, then the close.
    b.expect("ACL DELUSER b", b":1\r\n");
    assert!(closed(&mut b));
    admin.expect("PING", b"+PONG\r\n");
    admin.expect("ACL USERS", b"*1\r\n$7\r\ndefault\r\n");
    // CLIENT KILL USER knows the users.
    admin.expect("CLIENT KILL USER b", b"-ERR No such user 'b'\r\n");
    admin.expect("ACL SETUSER c on nopass +@all", b"+OK\r\n");
    let mut c = Conn::new(&srv);
    c.expect("AUTH c x", b"+OK\r\n");
    admin.expect("CLIENT KILL USER c", b":1\r\n");
    assert!(closed(&mut c));
}

#[test]
fn subscribers_that_lose_their_channels_are_disconnected() {
    let srv = Server::start();
    let mut admin = srv.raw();
    admin.expect("ACL SETUSER s on nopass ~* resetchannels &news.* &sport +@all", b"+OK\r\n");
    let mut news = Conn::new(&srv);
    news.expect("AUTH s x", b"+OK\r\n");
    news.expect("SUBSCRIBE news.a", b"*3\r\n$9\r\nsubscribe\r\n$6\r\nnews.a\r\n:1\r\n");
    let mut pattern = Conn::new(&srv);
    pattern.expect("AUTH s x", b"+OK\r\n");
    // A pattern must be one of the user's patterns exactly, not just match it.
    pattern.expect(
        "PSUBSCRIBE news.a*",
        b"-NOPERM this user has no permissions to access one of the channels used as arguments\r\n",
    );
    pattern.expect("PSUBSCRIBE news.*", b"*3\r\n$10\r\npsubscribe\r\n$6\r\nnews.*\r\n:1\r\n");
    let mut sport = Conn::new(&srv);
    sport.expect("AUTH s x", b"+OK\r\n");
    sport.expect("SUBSCRIBE sport", b"*3\r\n$9\r\nsubscribe\r\n$5\r\nsport\r\n:1\r\n");
    // `news.*` goes: the pattern subscriber loses its pattern, the channel subscriber its
    // channel; `sport` is still allowed.
    admin.expect("ACL SETUSER s resetchannels &sport &news.a", b"+OK\r\n");
    assert!(closed(&mut pattern));
    sport.expect("PING", b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    news.expect("PING", b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    admin.expect("ACL SETUSER s resetchannels &sport", b"+OK\r\n");
    assert!(closed(&mut news));
    sport.expect("PING", b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
}

#[test]
fn exec_refuses_commands_the_rules_no_longer_allow() {
    let srv = Server::start();
    let mut admin = srv.raw();
    admin.expect("ACL SETUSER t on nopass ~* &* +@all", b"+OK\r\n");
    let mut t = srv.raw();
    t.expect("AUTH t x", b"+OK\r\n");
    t.expect("MULTI", b"+OK\r\n");
    t.expect("SET k 1", b"+QUEUED\r\n");
    t.expect("GET k", b"+QUEUED\r\n");
    t.expect("INCR k", b"+QUEUED\r\n");
    admin.expect("ACL SETUSER t -get resetkeys ~k %R~j", b"+OK\r\n");
    t.expect(
        "EXEC",
        b"*3\r\n+OK\r\n-NOPERM ACLs rules changed between the moment the transaction was \
          accumulated and the EXEC call. This command is no longer allowed for the following \
          reason: no permission to execute the command or subcommand\r\n:2\r\n",
    );
    admin.expect("ACL SETUSER t resetkeys %R~k", b"+OK\r\n");
    t.expect("MULTI", b"+OK\r\n");
    // Refused while queueing: the transaction is aborted.
    t.expect(
        "SET k 2",
        b"-NOPERM this user has no permissions to access one of the keys used as arguments\r\n",
    );
    t.expect("EXEC", b"-EXECABORT Transaction discarded because of previous errors.\r\n");
    admin.expect("GET k", b"$1\r\n2\r\n");
}

#[test]
fn scripts_run_their_commands_as_the_caller() {
    let srv = Server::start();
    let mut admin = srv.raw();
    admin.expect(
        "ACL SETUSER lua on nopass ~k* &* +eval +evalsha +get +set +publish +fcall",
        b"+OK\r\n",
    );
    admin.expect("SET k1 v", b"+OK\r\n");
    admin.expect("SET other v", b"+OK\r\n");
    let mut lua = srv.raw();
    lua.expect("AUTH lua x", b"+OK\r\n");
    lua.expect("EVAL \"return redis.call('get', 'k1')\" 0", b"$1\r\nv\r\n");
    let reply = String::from_utf8_lossy(&lua.line("EVAL \"return redis.call('get', 'other')\" 0"))
        .to_string();
    assert!(
        reply.starts_with(
            "-ERR The user executing the script can't access at least one of the keys \
             mentioned in the command arguments script: "
        ),
        "{reply}"
    );
    lua.expect(
        "EVAL \"return redis.pcall('del', 'k1')\" 0",
        b"-ERR The user executing the script can't run this command or subcommand\r\n",
    );
    // Functions too.
    admin.expect(
        "FUNCTION LOAD \"#!lua name=lib\nredis.register_function('rd', function(k, a) return redis.call('get', a[1]) end)\"",
        b"$3\r\nlib\r\n",
    );
    lua.expect("FCALL rd 0 k1", b"$1\r\nv\r\n");
    let reply = String::from_utf8_lossy(&lua.line("FCALL rd 0 other")).to_string();
    assert!(reply.contains("can't access at least one of the keys"), "{reply}");
    // The refusals are in the log, context `lua`.
    let log = String::from_utf8_lossy(&admin.line("ACL LOG 1")).to_string();
    assert!(log.contains("$7\r\ncontext\r\n$3\r\nlua\r\n"), "{log}");
}

#[test]
fn the_acl_log_records_refusals_and_failed_logins() {
    let srv = Server::start();
    let mut admin = srv.raw();
    admin.expect("ACL SETUSER u on >pw ~a +get", b"+OK\r\n");
    let mut u = srv.raw();
    u.expect("AUTH u nope", b"-WRONGPASS invalid username-password pair or user is disabled.\r\n");
    u.expect("AUTH u pw", b"+OK\r\n");
    u.line("GET b");
    u.line("GET b");
    u.line("SET a 1");
    // Newest first; the two GET b are one entry counted twice.
    let log = String::from_utf8_lossy(&admin.line("ACL LOG")).to_string();
    let entries: Vec<&str> = log.split("$5\r\ncount\r\n").skip(1).collect();
    assert_eq!(entries.len(), 3, "{log}");
    let fields = |e: &str| -> Vec<String> {
        e.split("\r\n")
            .filter(|l| !l.starts_with('$') && !l.starts_with('*'))
            .map(str::to_string)
            .collect()
    };
    let set = fields(entries[0]);
    assert_eq!(
        &set[..9],
        [":1", "reason", "command", "context", "toplevel", "object", "set", "username", "u"]
    );
    let get = fields(entries[1]);
    assert_eq!(
        &get[..9],
        [":2", "reason", "key", "context", "toplevel", "object", "b", "username", "u"]
    );
    let auth = fields(entries[2]);
    assert_eq!(
        &auth[..9],
        [":1", "reason", "auth", "context", "toplevel", "object", "auth", "username", "u"]
    );
    assert!(entries[0].contains("client-info\r\n$"), "{log}");
    assert!(entries[0].contains(" user=u "), "{log}");
    let one = admin.line("ACL LOG 1");
    assert!(
        one.starts_with(b"*1\r\n%7\r\n") || one.starts_with(b"*1\r\n*14\r\n"),
        "{}",
        show(&one)
    );
    // acllog-max-len bounds it; RESET empties it.
    admin.expect("CONFIG SET acllog-max-len 2", b"+OK\r\n");
    u.line("GET c");
    let log = admin.line("ACL LOG");
    assert!(log.starts_with(b"*2\r\n"), "{}", show(&log));
    admin.expect("ACL LOG RESET", b"+OK\r\n");
    admin.expect("ACL LOG", b"*0\r\n");
}

#[test]
fn acl_save_and_load_use_the_acl_file() {
    let dir = TempDir::new("aclfile");
    let file = dir.0.join("users.acl");
    std::fs::write(&file, "user alice on >pw ~* &* +@all\n").unwrap();
    let path = file.display().to_string();
    let srv = Server::start_with(&["--aclfile", &path]);
    let mut admin = srv.raw();
    admin.expect("AUTH alice pw", b"+OK\r\n");
    // The file did not name `default`: it is as on a fresh server.
    let list = String::from_utf8_lossy(&admin.line("ACL LIST")).to_string();
    assert!(list.contains("user default on nopass ~* &* +@all"), "{list}");
    admin.expect("ACL SETUSER bob on >b ~b* +get", b"+OK\r\n");
    admin.expect("ACL SAVE", b"+OK\r\n");
    let saved = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        saved,
        "user alice on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~* &* \
         +@all\nuser bob on #3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d \
         ~b* resetchannels -@all +get\nuser default on nopass ~* &* +@all\n"
    );
    // A file with errors changes nothing and says where the errors are.
    std::fs::write(&file, "user alice on nopass +@all\nuser carol on +nosuch\nbad line\n").unwrap();
    let err = String::from_utf8_lossy(&admin.line("ACL LOAD")).to_string();
    assert_eq!(
        err,
        format!(
            "-ERR {path}:2: Error in applying operation '+nosuch': Unknown command or category \
             name in ACL. {path}:3 should start with user keyword followed by the username. \
             WARNING: ACL errors detected, no change to the previously active ACL rules was \
             performed\r\n"
        )
    );
    admin.expect("ACL USERS", b"*3\r\n$5\r\nalice\r\n$3\r\nbob\r\n$7\r\ndefault\r\n");
    // A good file replaces every user; connections of users it changes or drops close.
    let mut bob = Conn::new(&srv);
    bob.expect("AUTH bob b", b"+OK\r\n");
    std::fs::write(&file, "user alice on >pw ~* &* +@all\nuser carol on nopass +ping\n").unwrap();
    admin.expect("ACL LOAD", b"+OK\r\n");
    admin.expect("ACL USERS", b"*3\r\n$5\r\nalice\r\n$5\r\ncarol\r\n$7\r\ndefault\r\n");
    assert!(closed(&mut bob));
    // alice is unchanged: her connection stays.
    admin.expect("PING", b"+PONG\r\n");
}

#[test]
fn users_from_the_config_file_and_config_rewrite() {
    let dir = TempDir::new("aclconf");
    let conf = dir.0.join("vireo.conf");
    std::fs::write(
        &conf,
        "# users\nuser alice on >pw ~* &* +@all\nuser default on nopass ~* &* +@all -flushall\n",
    )
    .unwrap();
    let srv = ConfServer::start(&dir.0, &conf, &[]);
    let mut r = srv.raw();
    r.expect("FLUSHALL", b"-NOPERM this user has no permissions to run the 'flushall' command\r\n");
    r.expect("AUTH alice pw", b"+OK\r\n");
    r.expect("FLUSHALL", b"+OK\r\n");
    r.expect("ACL SETUSER bob on nopass +ping", b"+OK\r\n");
    r.expect("CONFIG REWRITE", b"+OK\r\n");
    let text = std::fs::read_to_string(&conf).unwrap();
    let users: Vec<&str> = text.lines().filter(|l| l.starts_with("user ")).collect();
    assert_eq!(
        users,
        [
            "user alice on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 ~* &* +@all",
            "user bob on nopass resetchannels -@all +ping",
            "user default on nopass sanitize-payload ~* &* +@all -flushall",
        ]
    );
    assert!(text.starts_with("# users\n"), "{text}");
    drop(srv);
    // The rewritten file starts a server with the same users.
    let srv = ConfServer::start(&dir.0, &conf, &[]);
    let mut r = srv.raw();
    r.expect("AUTH bob any", b"+OK\r\n");
    r.expect("GET x", b"-NOPERM this user has no permissions to run the 'get' command\r\n");
}

#[test]
fn bad_user_declarations_stop_start_up() {
    let dir = TempDir::new("aclbad");
    let acl = dir.0.join("users.acl");
    std::fs::write(&acl, "user a on\n").unwrap();
    let (ok, log) = start_fails(&["--user", "alice", "on", "--aclfile", acl.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        log.contains("users defined in redis.conf and at the same setting an ACL file"),
        "{log}"
    );
    let (ok, log) = start_fails(&["--user", "alice", "on", "+nosuch"]);
    assert!(!ok);
    assert!(log.contains("Error in user declaration 'alice'"), "{log}");
    std::fs::write(&acl, "user a on +nosuch\n").unwrap();
    let (ok, log) = start_fails(&["--aclfile", acl.to_str().unwrap()]);
    assert!(!ok);
    assert!(log.contains("Unknown command or category name in ACL"), "{log}");
}

#[test]
fn requirepass_is_the_default_users_password() {
    let srv = Server::start();
    let mut r = srv.raw();
    r.expect("CONFIG SET requirepass s3cret", b"+OK\r\n");
    r.expect(
        "ACL LIST",
        b"*1\r\n$93\r\nuser default on \
          #1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0 ~* &* +@all\r\n",
    );
    let mut late = srv.raw();
    late.expect("GET x", b"-NOAUTH Authentication required.\r\n");
    late.expect("AUTH s3cret", b"+OK\r\n");
    late.expect("ACL WHOAMI", b"$7\r\ndefault\r\n");
    // Set through ACL SETUSER instead, the password works for AUTH too.
    r.expect("ACL SETUSER default resetpass >other", b"+OK\r\n");
    let mut again = srv.raw();
    again.expect("AUTH other", b"+OK\r\n");
    r.expect("CONFIG SET requirepass \"\"", b"+OK\r\n");
    let mut open = srv.raw();
    open.expect("GET x", b"$-1\r\n");
    open.expect(
        "AUTH x",
        b"-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n",
    );
}
