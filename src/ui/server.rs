//! The dashboard's HTTP server (axum on the command's tokio runtime).
//!
//! | route | what |
//! |---|---|
//! | `GET /?token=T` | sets the token cookie, redirects to `/` (the token leaves the address bar) |
//! | `GET /`, `/app.js`, `/app.css` | the page, embedded in the binary |
//! | `GET /api/snapshot` | everything now, as JSON |
//! | `GET /api/stream` | server-sent events: `hello` (the snapshot), then `instance`, `removed`, `records`, `stats`, `event` |
//! | `GET /api/logs/{container}` | server-sent events: the instance's last 200 lines, then what it writes (`line`) |
//! | `POST /api/action` | `{"verb":"run"\|"rerun"\|"clean","service":…,"instance":…}` → 202, its progress as events |
//!
//! Every request needs the token and, on a loopback address, a Host header naming the server;
//! a POST also needs the dashboard's own Origin (see `auth`).

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::{Stream, StreamExt};
use serde::Serialize;

use super::actions::{ActionRequest, Job, Jobs, Verb};
use super::assets;
use super::auth;
use crate::engine::logs::{logs, LogsOptionsDops};
use crate::engine::{Engine, Progress, Reporter, Sink};
use crate::live::event::now_ms;
use crate::live::{Event, Kind, Live, Snapshot};

/// How the dashboard is served.
#[derive(Debug, Clone)]
pub struct UiOptions {
    pub bind: IpAddr,
    /// 0: a free one.
    pub port: u16,
    pub read_only: bool,
}

/// A bound, not yet serving, dashboard: its address and token are known (the edge prints them).
pub struct Bound {
    pub addr: SocketAddr,
    pub token: String,
    listener: tokio::net::TcpListener,
    read_only: bool,
}

/// Bind the listening socket.
pub async fn bind(opts: &UiOptions) -> std::io::Result<Bound> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(opts.bind, opts.port)).await?;
    Ok(Bound {
        addr: listener.local_addr()?,
        token: auth::new_token(),
        listener,
        read_only: opts.read_only,
    })
}

impl Bound {
    /// The address to open: `http://127.0.0.1:PORT/?token=…` (an unspecified bind address is
    /// shown as the loopback one).
    pub fn url(&self) -> String {
        let host = match self.addr.ip() {
            IpAddr::V4(v) if v.is_unspecified() => "127.0.0.1".to_string(),
            IpAddr::V6(v) if v.is_unspecified() => "[::1]".to_string(),
            IpAddr::V4(v) => v.to_string(),
            IpAddr::V6(v) => format!("[{v}]"),
        };
        format!("http://{host}:{}/?token={}", self.addr.port(), self.token)
    }

    /// Serve until `shutdown` resolves (open streams are not waited for). `engine`: for the logs
    /// (None: no logs); `actions`: where jobs go (None turns them off as `--read-only` does).
    pub async fn serve(
        self,
        live: Live,
        engine: Option<Engine>,
        actions: Option<Jobs>,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        let app = Arc::new(App {
            read_only: self.read_only || actions.is_none(),
            cookie: auth::cookie_name(self.addr.port()),
            hosts: auth::allowed_hosts(self.addr),
            token: self.token,
            live,
            engine,
            actions,
            busy: AtomicBool::new(false),
        });
        let router = Router::new()
            .route("/", get(index))
            .route(
                "/app.js",
                get(|| async { asset("text/javascript", assets::APP_JS) }),
            )
            .route(
                "/app.css",
                get(|| async { asset("text/css", assets::APP_CSS) }),
            )
            .route("/api/snapshot", get(snapshot))
            .route("/api/stream", get(stream))
            .route("/api/logs/{container}", get(log_stream))
            .route("/api/action", post(action))
            .layer(axum::middleware::from_fn_with_state(app.clone(), guard))
            .with_state(app);
        tokio::select! {
            r = axum::serve(self.listener, router) => r,
            _ = shutdown => Ok(()),
        }
    }
}

struct App {
    token: String,
    cookie: String,
    hosts: Option<Vec<String>>,
    read_only: bool,
    live: Live,
    engine: Option<Engine>,
    actions: Option<Jobs>,
    /// An action is running (one at a time: they take the project lock anyway).
    busy: AtomicBool,
}

fn text(status: StatusCode, body: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{body}\n"),
    )
        .into_response()
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn header_str(h: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Host, token; and the headers every answer carries.
async fn guard(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let h = req.headers();
    let mut resp = if !auth::host_ok(&app.hosts, header_str(h, header::HOST)) {
        text(
            StatusCode::FORBIDDEN,
            "dops ui: refused: the Host header does not name this server",
        )
    } else if let Some(t) = (req.uri().path() == "/")
        .then(|| auth::token_in_query(req.uri().query()))
        .flatten()
    {
        if auth::same(t, &app.token) {
            let cookie = format!(
                "{}={}; Path=/; HttpOnly; SameSite=Strict",
                app.cookie, app.token
            );
            let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        } else {
            unauthorized()
        }
    } else {
        let given = auth::token_of(
            &app.cookie,
            header_str(h, header::COOKIE),
            header_str(h, auth::HEADER),
            header_str(h, header::AUTHORIZATION),
        );
        if given.is_some_and(|t| auth::same(t, &app.token)) {
            next.run(req).await
        } else {
            unauthorized()
        }
    };
    let headers = resp.headers_mut();
    for (k, v) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'none'; base-uri 'none'",
        ),
    ] {
        headers.insert(k, HeaderValue::from_static(v));
    }
    resp
}

fn unauthorized() -> Response {
    text(
        StatusCode::UNAUTHORIZED,
        "dops ui: open the address `dops ui` printed (it carries the token)",
    )
}

async fn index() -> Response {
    asset("text/html; charset=utf-8", assets::INDEX_HTML)
}

/// The first message of the stream, and `/api/snapshot`.
#[derive(Serialize)]
struct Hello {
    read_only: bool,
    #[serde(flatten)]
    snapshot: Snapshot,
}

async fn snapshot(State(app): State<Arc<App>>) -> Response {
    axum::Json(Hello {
        read_only: app.read_only,
        snapshot: app.live.snapshot(),
    })
    .into_response()
}

fn sse_json(name: &str, value: &impl Serialize) -> SseEvent {
    SseEvent::default()
        .event(name)
        .data(serde_json::to_string(value).unwrap_or_default())
}

async fn stream(
    State(app): State<Arc<App>>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let (snap, rx) = app.live.subscribe();
    let hello = sse_json(
        "hello",
        &Hello {
            read_only: app.read_only,
            snapshot: snap,
        },
    );
    let rest = futures_util::stream::unfold((rx, app), |(mut rx, app)| async move {
        use tokio::sync::broadcast::error::RecvError;
        let ev = match rx.recv().await {
            Ok(u) => sse_json(u.name(), &u),
            // Too slow to follow: start again from everything.
            Err(RecvError::Lagged(_)) => sse_json(
                "hello",
                &Hello {
                    read_only: app.read_only,
                    snapshot: app.live.snapshot(),
                },
            ),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok(ev), (rx, app)))
    });
    Sse::new(futures_util::stream::once(async { Ok(hello) }).chain(rest))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// The output of a container, line by line, into a channel.
struct ChannelSink(tokio::sync::mpsc::UnboundedSender<String>);

impl Sink for ChannelSink {
    fn out(&self, bytes: &[u8]) {
        for line in String::from_utf8_lossy(bytes).lines() {
            let _ = self.0.send(line.to_string());
        }
    }
    fn err(&self, bytes: &[u8]) {
        self.out(bytes);
    }
}

/// Ends the log task when the page stops listening.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn log_stream(State(app): State<Arc<App>>, Path(container): Path<String>) -> Response {
    let Some(engine) = app.engine.clone() else {
        return text(StatusCode::NOT_FOUND, "dops ui: no engine, no logs");
    };
    // Only the project's own containers.
    if app.live.instance(&container).is_none_or(|v| v.created == 0) {
        return text(
            StatusCode::NOT_FOUND,
            &format!("dops ui: {container} is not a container of this project"),
        );
    }
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let name = container.clone();
    let task = tokio::spawn(async move {
        let sink = Arc::new(ChannelSink(tx.clone()));
        let opts = LogsOptionsDops {
            follow: true,
            tail: "200".into(),
        };
        if let Err(e) = logs(&engine, vec![(name, String::new())], opts, sink).await {
            let _ = tx.send(format!("dops ui: {e}"));
        }
    });
    let guard = AbortOnDrop(task.abort_handle());
    let lines = futures_util::stream::unfold((rx, guard), |(mut rx, guard)| async move {
        let line = rx.recv().await?;
        Some((
            Ok::<_, Infallible>(SseEvent::default().event("line").data(line)),
            (rx, guard),
        ))
    });
    Sse::new(lines)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

async fn action(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    if !auth::same_origin(
        header_str(&headers, header::HOST),
        header_str(&headers, header::ORIGIN),
        header_str(&headers, "sec-fetch-site"),
    ) {
        return text(
            StatusCode::FORBIDDEN,
            "dops ui: refused: the request comes from another origin",
        );
    }
    let Some(actions) = app.actions.clone().filter(|_| !app.read_only) else {
        return text(
            StatusCode::FORBIDDEN,
            "dops ui: refused: this dashboard is read-only (--read-only)",
        );
    };
    let req: ActionRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                &format!("dops ui: expected {{\"verb\":\"run|rerun|clean\",\"service\":…,\"instance\":…}}: {e}"),
            )
        }
    };
    if let Err(e) = req.check() {
        return text(StatusCode::BAD_REQUEST, &format!("dops ui: {e}"));
    }
    // Only instances of the services the run conf declares; `run` only a declared instance.
    let snap = app.live.snapshot();
    let declared = |service: &str, instance: Option<&str>| {
        snap.instances
            .iter()
            .any(|v| v.declared && v.service == service && instance.is_none_or(|i| v.instance == i))
    };
    let runs = snap
        .instances
        .iter()
        .any(|v| v.service == req.service && v.instance == req.instance && v.created != 0);
    let allowed = match req.verb {
        Verb::Run => declared(&req.service, Some(&req.instance)),
        Verb::Rerun | Verb::Clean => runs && declared(&req.service, None),
    };
    if !allowed {
        return text(
            StatusCode::NOT_FOUND,
            &format!(
                "dops ui: {}: not an instance the run conf declares{}",
                req.text(),
                if req.verb == Verb::Run {
                    ""
                } else {
                    " that runs"
                }
            ),
        );
    }
    if app.busy.swap(true, Ordering::SeqCst) {
        return text(
            StatusCode::CONFLICT,
            "dops ui: another action is running; try again when it is done",
        );
    }
    let live = app.live.clone();
    let who = live.who(&req.service, &req.instance);
    let say = {
        let (live, who) = (live.clone(), who.clone());
        move |line: String| live.publish(Event::new(now_ms(), Kind::Action, &who, line))
    };
    say(format!("{}: started from the dashboard", req.text()));
    let report: Reporter = {
        let say = say.clone();
        Arc::new(move |p: Progress| match p {
            Progress::Done(line) | Progress::BuildNote(line) => say(line),
            Progress::BuildEnded { summary, .. } => say(summary),
            _ => {}
        })
    };
    let accepted = req.text();
    let (done, outcome) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let what = req.text();
        let sent = actions.send(Job { req, report, done }).await;
        let result = match sent {
            Ok(()) => outcome
                .await
                .unwrap_or_else(|_| Err("the dashboard is stopping".into())),
            Err(_) => Err("the dashboard is stopping".into()),
        };
        match result {
            Ok(()) => say(format!("{what}: done")),
            Err(e) => say(format!("{what}: failed: {e}")),
        }
        app.busy.store(false, Ordering::SeqCst);
    });
    (
        StatusCode::ACCEPTED,
        axum::Json(serde_json::json!({ "accepted": accepted })),
    )
        .into_response()
}
