//! Every app-server method abg names, in one table each way: the requests
//! it sends (each paired with its params and result types), the
//! notification it sends, the server notifications it acts on (each paired
//! with its params type) and those it opts out of.
//!
//! Why it exists: a method name typed as a string at a call site can drift
//! from the params it is sent with or the result it is decoded as. Here, as
//! in codex-rs's `app-server-protocol`, a method is a type: the transport's
//! `request::<M>(params)` takes `M::Params` and returns `M::Result`, and
//! `Notification::parse` matches on `N::METHOD`. No transport code lives
//! here.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{
    ErrorNotification, InitializeParams, InitializeResult, ItemNotification, LoadedListResult,
    NoParams, ThreadClosedNotification, ThreadReadParams, ThreadResult, ThreadResumeParams,
    ThreadStatusChangedNotification, TurnInterruptParams, TurnNotification, TurnStartParams,
    TurnStartResult, TurnSteerParams, TurnSteerResult,
};

/// A request abg sends to the app-server.
pub trait ClientRequest {
    /// The JSON-RPC `method`.
    const METHOD: &'static str;
    /// Its `params`.
    type Params: Serialize;
    /// What its `result` is decoded as.
    type Result: DeserializeOwned;
}

/// A notification abg sends to the app-server (it carries no params).
pub trait ClientNotification {
    const METHOD: &'static str;
}

/// A notification from the app-server that abg acts on.
pub trait ServerNotification {
    const METHOD: &'static str;
    /// What its `params` are decoded as.
    type Params: DeserializeOwned;
}

/// One uninhabited marker type per method, implementing `$trait`, plus the
/// list of the table's method names.
macro_rules! client_requests {
    ($( $(#[$doc:meta])* $name:ident => $method:literal ($params:ty) -> $result:ty; )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug)]
            pub enum $name {}
            impl ClientRequest for $name {
                const METHOD: &'static str = $method;
                type Params = $params;
                type Result = $result;
            }
        )*
        /// Every request method abg sends.
        pub const CLIENT_REQUESTS: &[&str] = &[$($method),*];
    };
}

macro_rules! client_notifications {
    ($( $(#[$doc:meta])* $name:ident => $method:literal; )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug)]
            pub enum $name {}
            impl ClientNotification for $name {
                const METHOD: &'static str = $method;
            }
        )*
        /// Every notification method abg sends.
        pub const CLIENT_NOTIFICATIONS: &[&str] = &[$($method),*];
    };
}

macro_rules! server_notifications {
    ($( $(#[$doc:meta])* $name:ident => $method:literal ($params:ty); )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug)]
            pub enum $name {}
            impl ServerNotification for $name {
                const METHOD: &'static str = $method;
                type Params = $params;
            }
        )*
        /// Every server notification method abg acts on.
        pub const SERVER_NOTIFICATIONS: &[&str] = &[$($method),*];
    };
}

client_requests! {
    /// The handshake, first on every connection.
    Initialize => "initialize" (InitializeParams) -> InitializeResult;
    /// Start a turn with a queued message (Codex idle).
    TurnStart => "turn/start" (TurnStartParams) -> TurnStartResult;
    /// Steer a message into the running turn.
    TurnSteer => "turn/steer" (TurnSteerParams) -> TurnSteerResult;
    /// Interrupt the running turn (its end comes as `turn/completed`; the
    /// answer itself is not looked at).
    TurnInterrupt => "turn/interrupt" (TurnInterruptParams) -> Value;
    /// The threads the app-server holds in memory.
    ThreadLoadedList => "thread/loaded/list" (NoParams) -> LoadedListResult;
    /// One thread, with or without its turns.
    ThreadRead => "thread/read" (ThreadReadParams) -> ThreadResult;
    /// Subscribe this connection to a thread (loading it if needed).
    ThreadResume => "thread/resume" (ThreadResumeParams) -> ThreadResult;
    /// The account's rate limits, once per connection. Params are `null`;
    /// the result stays raw: `budget::sense` merges its `rateLimits`.
    AccountRateLimitsRead => "account/rateLimits/read" (()) -> Value;
}

client_notifications! {
    /// Sent once `initialize` is answered.
    Initialized => "initialized";
}

server_notifications! {
    TurnStarted => "turn/started" (TurnNotification);
    TurnCompleted => "turn/completed" (TurnNotification);
    ItemStarted => "item/started" (ItemNotification);
    ItemCompleted => "item/completed" (ItemNotification);
    /// Its params are `{ thread }`, the shape of `thread/read`'s result.
    ThreadStarted => "thread/started" (ThreadResult);
    ThreadStatusChanged => "thread/status/changed" (ThreadStatusChangedNotification);
    ThreadClosed => "thread/closed" (ThreadClosedNotification);
    /// A turn's error (`willRetry` when Codex retries by itself).
    ErrorNotice => "error" (ErrorNotification);
    /// Sparse rate-limit updates, merged raw by `budget::sense`.
    AccountRateLimitsUpdated => "account/rateLimits/updated" (Value);
}

/// Notifications abg does not need streamed (deltas of reasoning and
/// command output), sent in `initialize`'s `optOutNotificationMethods`;
/// the agent message is taken from `item/completed`.
pub const OPT_OUT_NOTIFICATIONS: &[&str] = &[
    "item/reasoning/summaryTextDelta",
    "item/reasoning/textDelta",
    "item/commandExecution/outputDelta",
    "item/agentMessage/delta",
    "item/fileChange/outputDelta",
];
