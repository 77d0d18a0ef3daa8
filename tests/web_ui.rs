//! The web UI end to end: its auth against unauthenticated and cross-site
//! requests, then real headless Chromium (driven over WebDriver) logging in
//! through the `abg ui` link, watching messages stored through the control
//! plane appear live with the right sides and delivery states, sending from
//! the composer, rendering hostile agent text inert, and catching up after
//! a daemon restart without duplicates. Saves `target/ui-screenshot.png`.
//! The approvals panel has its own scenario (`web_ui/approvals.rs`), and
//! so has a pair with a third peer (`web_ui/three.rs`).
// Test/bench code: a failed unwrap is a failed test or an aborted run.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Its report (or a screenshot path) on stdout is what it is run for.
#![allow(clippy::print_stdout)]

#[path = "web_ui/approvals.rs"]
mod approvals;
#[path = "foundation/env.rs"]
#[allow(dead_code)]
mod env;
#[path = "web_ui/fake_approver.rs"]
mod fake_approver;
#[path = "foundation/in_process.rs"]
mod in_process;
#[path = "web_ui/three.rs"]
mod three;
#[path = "web_ui/webdriver.rs"]
mod webdriver;

use std::time::Duration;

use serde_json::{Value, json};

use env::AbgEnv;

struct Daemon {
    env: AbgEnv,
    project: std::path::PathBuf,
    port: u16,
    secret: String,
    http: reqwest::Client,
}

impl Daemon {
    fn start() -> Daemon {
        let env = AbgEnv::new();
        let project = env.project("p");
        env.json(&project, &["status", "--json"]);
        let secret = std::fs::read_to_string(env.pair_dirs()[0].join("secret"))
            .expect("secret")
            .trim()
            .to_string();
        let port = env.base_port + 2;
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("http");
        Daemon {
            env,
            project,
            port,
            secret,
            http,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A fresh login link from the real `abg ui`.
    fn login_url(&self) -> String {
        let out = self.env.ok(&self.project, &["ui"]);
        let url = out.trim().to_string();
        assert!(
            url.starts_with(&format!("http://127.0.0.1:{}/ui/login?token=", self.port)),
            "{url}"
        );
        url
    }

    /// A control-plane session (the daemon proves the pair secret first).
    async fn session(&self) -> String {
        abg::control::client::open_session(&self.http, self.port, &self.secret)
            .await
            .expect("session")
    }

    /// Store a message through the control plane.
    async fn store(&self, from: &str, to: &str, body: &str) -> String {
        let r: Value = self
            .http
            .post(self.url("/v1/messages"))
            .header("authorization", self.session().await)
            .json(&json!({"from": from, "to": to, "body": body}))
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        r["message_id"].as_str().expect("id").to_string()
    }

    async fn all_messages(&self) -> Vec<Value> {
        let r: Value = self
            .http
            .get(self.url("/v1/messages?after=0&limit=1000"))
            .header("authorization", self.session().await)
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        r["messages"].as_array().expect("messages").clone()
    }

    async fn status_of(&self, req: reqwest::RequestBuilder) -> u16 {
        req.send().await.expect("request").status().as_u16()
    }
}

/// Every page and API refuses a browser without the session cookie, and a
/// cookie alone does not make a cross-site POST acceptable.
async fn check_auth(d: &Daemon) {
    let gets = [
        "/ui",
        "/ui/",
        "/ui/assets/app.js",
        "/ui/assets/render.js",
        "/ui/assets/approvals.js",
        "/ui/assets/peers.js",
        "/ui/assets/activity.js",
        "/ui/assets/app.css",
        "/ui/api/session",
        "/ui/api/status",
        "/ui/api/messages",
        "/ui/api/events",
        "/ui/api/search?q=x",
        "/ui/api/approvals",
        "/ui/api/export?format=md",
        "/ui/api/stream",
        "/ui/login?token=forged",
        "/ui/login",
    ];
    for path in gets {
        assert_eq!(
            d.status_of(d.http.get(d.url(path))).await,
            401,
            "GET {path}"
        );
    }
    for path in ["/ui/api/send", "/ui/api/logout", "/ui/api/approvals/a_x"] {
        let req = d.http.post(d.url(path)).body("{}");
        assert_eq!(d.status_of(req).await, 401, "POST {path}");
    }
    // The pair secret and a control session are not a UI session.
    let req = d.http.get(d.url("/ui/api/messages")).bearer_auth(&d.secret);
    assert_eq!(d.status_of(req).await, 401);
    let req = d
        .http
        .get(d.url("/ui/api/messages"))
        .header("authorization", d.session().await);
    assert_eq!(d.status_of(req).await, 401);
    // Minting login tokens needs the pair secret.
    let req = d.http.post(d.url("/v1/ui/login-token"));
    assert_eq!(d.status_of(req).await, 401);

    // Log in outside the browser to try forged requests with a real cookie.
    let login = d.login_url();
    let resp = d.http.get(&login).send().await.expect("login");
    assert_eq!(resp.status().as_u16(), 200);
    let set = resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("set-cookie")
        .to_string();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(set.contains(attr), "{set}");
    }
    let cookie = set.split(';').next().expect("cookie").to_string();
    assert_eq!(
        d.status_of(d.http.get(&login)).await,
        401,
        "login tokens are one-time"
    );
    let session: Value = d
        .http
        .get(d.url("/ui/api/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("session")
        .json()
        .await
        .expect("json");
    let csrf = session["csrf"].as_str().expect("csrf").to_string();
    let origin = d.url("");
    let body = json!({"to": "codex", "body": "cross-site attempt"}).to_string();
    let post = |headers: &[(&str, &str)]| {
        let mut r = d
            .http
            .post(d.url("/ui/api/send"))
            .header("cookie", &cookie)
            .header("content-type", "application/json")
            .body(body.clone());
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r
    };
    let forged: [&[(&str, &str)]; 4] = [
        &[("origin", "http://evil.example")],
        &[("origin", "http://evil.example"), ("x-abg-csrf", &csrf)],
        &[
            ("origin", &origin),
            ("sec-fetch-site", "cross-site"),
            ("x-abg-csrf", &csrf),
        ],
        &[("origin", &origin)],
    ];
    for h in forged {
        assert_eq!(d.status_of(post(h)).await, 403, "forged POST {h:?}");
    }
    assert!(
        !d.all_messages()
            .await
            .iter()
            .any(|m| m["body"] == "cross-site attempt"),
        "nothing forged was stored"
    );
    let ok = post(&[("origin", &origin), ("x-abg-csrf", &csrf)]);
    assert_eq!(
        d.status_of(ok).await,
        200,
        "a same-origin POST with the token works"
    );
    let export = d
        .http
        .get(d.url("/ui/api/export?format=jsonl"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("export");
    let disposition = export
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        disposition.contains("attachment; filename=\"abg-main.jsonl\""),
        "{disposition}"
    );
    let lines = export.text().await.expect("text");
    assert_eq!(lines.lines().count(), 1, "{lines}");
    let page = d.http.get(d.url("/ui/")).header("cookie", &cookie);
    let resp = page.send().await.expect("page");
    let csp = resp
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(csp.contains("script-src 'self'"), "{csp}");
}

const HOSTILE: &str = "<script>window.__pwned = 'script'</script>\n\
<img src=x onerror=\"window.__pwned = 'img'\">\n\
<svg onload=\"window.__pwned = 'svg'\"></svg><iframe src=\"javascript:window.__pwned='iframe'\"></iframe>\n\
[click me](javascript:window.__pwned='link') and [ok](https://example.com/x?a=1&b=<2>)\n\
[case](JaVaScRiPt:window.__pwned='case') [data](data:text/html,<script>parent.__pwned='data'</script>) \
[rel](//example.com/x) <a href=\"javascript:window.__pwned='raw'\">raw</a>\n\
![pixel](https://example.com/pixel.png) ***_**_*nested*_**_*** \n\
**bold <b>not html</b>** `<script>alert(1)</script>` &lt;entity&gt; \"quotes\" 'single'\n\
```html\n<script>window.__pwned = 'fence'</script>\n```\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_ui_in_headless_chromium() {
    let required = std::env::var("ABG_E2E_REQUIRED").is_ok_and(|v| v == "1");
    let Some((chromium, chromedriver)) = webdriver::find_browser() else {
        assert!(
            !required,
            "chromium and chromedriver are required (ABG_E2E_REQUIRED=1)"
        );
        println!(
            "skipping web_ui: chromium/chromedriver not installed (apt-get install chromium chromium-driver)"
        );
        return;
    };
    let d = Daemon::start();
    check_auth(&d).await;

    // An exchange before the browser opens.
    let plan = d
        .store(
            "claude",
            "codex",
            "Plan:\n1. read `src/web`\n2. **test** it\n\n```rust\nfn main() { let x = \"hi\"; // greet\n    println!(\"{x}\"); }\n```\nSee https://example.com/docs.",
        )
        .await;
    let reply = d
        .store(
            "codex",
            "claude",
            "Done. _All_ green; see [the log](https://example.com/log).",
        )
        .await;

    let driver = webdriver::Driver::spawn(&chromedriver, &d.env.path().join("chromedriver.log"));
    let profile = d.env.path().join("chromium-profile");
    let b = webdriver::Session::start(driver.port, &chromium, &profile).await;
    b.goto(&d.login_url()).await;
    let t = Duration::from_secs(20);
    b.wait_js(
        "the page to load",
        t,
        "return document.body && document.body.dataset.ready === 'true'",
        json!([]),
    )
    .await;
    let side_state = "const e = document.getElementById('m-' + arguments[0]); \
        return e ? [e.dataset.side, e.dataset.state] : null;";
    assert_eq!(
        b.js(side_state, json!([plan])).await,
        json!(["left", "queued"])
    );
    assert_eq!(
        b.js(side_state, json!([reply])).await,
        json!(["right", "stored"])
    );
    let highlighted = "return document.querySelectorAll('#items pre.code .tok-keyword').length > 0 \
        && document.querySelectorAll('#items ol li').length === 2";
    assert_eq!(b.js(highlighted, json!([])).await, json!(true));
    b.wait_js(
        "the stream to connect",
        t,
        "return document.getElementById('st-conn').dataset.state === 'live'",
        json!([]),
    )
    .await;

    // Live: messages stored now appear without a reload.
    let live = d
        .store("codex", "claude", "live one: the stream works")
        .await;
    let appears = "return !!document.getElementById('m-' + arguments[0])";
    b.wait_js("a live message", t, appears, json!([live])).await;
    assert_eq!(
        b.js(side_state, json!([live])).await,
        json!(["right", "stored"])
    );

    // Hostile content, a 1 MB message and a very long line stay inert.
    let hostile = d.store("claude", "codex", HOSTILE).await;
    let big = format!(
        "{}\n{}",
        "x".repeat(200_000),
        "<img src=x onerror=window.__pwned=1> ".repeat(20_000)
    );
    let big = d
        .store("codex", "claude", &big[..big.len().min(1_000_000)])
        .await;
    let long_line = d.store("claude", "codex", &"word".repeat(5_000)).await;
    // The renderer's worst cases under its plain-text cut-off: emphasis,
    // code and link openers that never close, and an unclosed comment in
    // a highlighted block (each a rescan per opener).
    let bomb = format!(
        "{}```js\n{}\n```\n",
        format!("{}\n\n", "**_*`[".repeat(3_000)).repeat(8),
        "/*a".repeat(16_000)
    );
    let bomb = d.store("codex", "claude", &bomb).await;
    for id in [&hostile, &big, &long_line, &bomb] {
        b.wait_js("hostile messages", t, appears, json!([id])).await;
    }
    b.click(&format!("#m-{big} .toggle")).await;
    b.click(&format!("#m-{bomb} .toggle")).await;
    let inert = "const items = document.getElementById('items'); \
        const bad = items.querySelectorAll('script, img, svg, iframe, object, embed, [onerror], [onload]').length; \
        const links = [...items.querySelectorAll('a')].map(a => a.protocol); \
        const text = document.getElementById('m-' + arguments[0]).textContent; \
        return { pwned: typeof window.__pwned, bad, links: links.every(p => p === 'http:' || p === 'https:'), \
                 text: text.includes(\"<script>window.__pwned = 'script'</script>\") && text.includes('<b>not html</b>'), \
                 wide: document.documentElement.scrollWidth <= window.innerWidth + 1 };";
    let r = b.js(inert, json!([hostile])).await;
    assert_eq!(
        r,
        json!({"pwned": "undefined", "bad": 0, "links": true, "text": true, "wide": true}),
        "hostile content must render inert"
    );
    let started = std::time::Instant::now();
    assert_eq!(b.js("return 1 + 1", json!([])).await, json!(2));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the page stays responsive"
    );

    // The composer: a human message to Codex is stored (queued).
    b.type_into("#body", "human says: please run the tests")
        .await;
    b.click("#send").await;
    let mut stored = None;
    for _ in 0..100 {
        stored = d.all_messages().await.into_iter().find(|m| {
            m["from"] == "human"
                && m["to"] == "codex"
                && m["body"] == "human says: please run the tests"
        });
        if stored.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stored = stored.expect("the composer's message was stored");
    assert_eq!(stored["state"], "queued");
    let human = stored["id"].as_str().expect("id").to_string();
    b.wait_js("the human message", t, appears, json!([human]))
        .await;
    assert_eq!(
        b.js(side_state, json!([human])).await,
        json!(["human", "queued"])
    );

    // Search through the UI.
    b.type_into("#q", "stream works\u{E007}").await;
    b.wait_js(
        "search results",
        t,
        "return document.querySelectorAll('#results-list .msg').length === 1",
        json!([]),
    )
    .await;
    b.js(
        "document.getElementById('results').hidden = true; return 0",
        json!([]),
    )
    .await;

    // Screenshots (wide and narrow) with the long messages collapsed again.
    b.click(&format!("#m-{big} .toggle")).await;
    b.click(&format!("#m-{bomb} .toggle")).await;
    let bottom =
        "const t = document.getElementById('transcript'); t.scrollTop = t.scrollHeight; return 0";
    b.js(bottom, json!([])).await;
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let top =
        "document.getElementById('m-' + arguments[0]).scrollIntoView({block: 'start'}); return 0";
    for (name, width) in [
        ("ui-screenshot.png", 1280),
        ("ui-screenshot-narrow.png", 420),
    ] {
        b.resize(width, 1000).await;
        if width > 1000 {
            b.js(top, json!([plan])).await;
        } else {
            b.js(bottom, json!([])).await;
        }
        let narrow_ok = "return document.documentElement.scrollWidth <= window.innerWidth + 1";
        assert_eq!(
            b.js(narrow_ok, json!([])).await,
            json!(true),
            "no sideways scroll at {width}px"
        );
        let png = b.screenshot().await;
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        let shot = target.join(name);
        std::fs::write(&shot, &png).expect("write screenshot");
        println!("screenshot: {}", shot.display());
    }

    // Restart the daemon: the page reconnects and catches up, no duplicates.
    let req = d
        .http
        .post(d.url("/v1/shutdown"))
        .header("authorization", d.session().await);
    assert_eq!(d.status_of(req).await, 200);
    b.wait_js(
        "the stream to notice",
        t,
        "return document.getElementById('st-conn').dataset.state !== 'live'",
        json!([]),
    )
    .await;
    d.env.json(&d.project, &["status", "--json"]);
    let after = d.store("claude", "codex", "after the restart").await;
    b.wait_js(
        "catch-up after restart",
        Duration::from_secs(30),
        appears,
        json!([after]),
    )
    .await;
    let ids = "return [...document.querySelectorAll('#items article.msg')].map(e => e.dataset.id)";
    let shown: Vec<String> = serde_json::from_value(b.js(ids, json!([])).await).expect("ids");
    let stored: Vec<String> = d
        .all_messages()
        .await
        .iter()
        .map(|m| m["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(shown, stored, "every message once, in order");

    // `abg export`: the same transcript as JSONL and Markdown.
    let jsonl = d.env.ok(&d.project, &["export", "--format", "jsonl"]);
    let ids: Vec<String> = jsonl
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("jsonl")["id"]
                .as_str()
                .expect("id")
                .to_string()
        })
        .collect();
    assert_eq!(ids, stored);
    let md_file = d.env.path().join("t.md");
    d.env.ok(
        &d.project,
        &["export", "-o", md_file.to_str().expect("path")],
    );
    let md = std::fs::read_to_string(&md_file).expect("md");
    assert!(
        md.starts_with("# abg transcript — pair `main`"),
        "{}",
        &md[..200]
    );
    assert_eq!(md.matches("\n## #").count(), stored.len());
    b.quit().await;
}

/// A headless Chromium logged in to the in-process daemon `d`, its page
/// loaded. Keep the driver and the temp dir (logs, profile) while using it.
pub async fn open_page(
    d: &in_process::InProcess,
    chromium: &std::path::Path,
    chromedriver: &std::path::Path,
) -> (webdriver::Driver, webdriver::Session, tempfile::TempDir) {
    let http = reqwest::Client::builder().no_proxy().build().expect("http");
    let tmp = tempfile::tempdir().expect("tempdir");
    let driver = webdriver::Driver::spawn(chromedriver, &tmp.path().join("chromedriver.log"));
    let b = webdriver::Session::start(driver.port, chromium, &tmp.path().join("profile")).await;
    b.goto(&fake_approver::login_url(&http, d.port, &d.secret).await)
        .await;
    b.wait_js(
        "the page to load",
        Duration::from_secs(20),
        "return document.body && document.body.dataset.ready === 'true'",
        serde_json::json!([]),
    )
    .await;
    (driver, b, tmp)
}
