//! A `newHeads` WebSocket subscription, used only as a wake-up: the indexer always reads the
//! chain itself from its cursor, so a dropped connection loses nothing.

use futures::{SinkExt, StreamExt};
use tokio_tungstenite::{tungstenite::Message, MaybeTlsStream, WebSocketStream};

use super::{parse_header, Header, RpcError, RpcUrl};

/// A live `eth_subscribe("newHeads")` stream.
pub struct HeadStream {
    socket: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
    url: RpcUrl,
}

impl HeadStream {
    /// Connects and subscribes.
    pub async fn connect(url: &RpcUrl) -> Result<Self, RpcError> {
        let err = |detail: String| RpcError::Transport {
            method: "eth_subscribe".into(),
            url: url.to_string(),
            detail,
        };
        let (mut socket, _) = tokio_tungstenite::connect_async(url.expose())
            .await
            .map_err(|e| err(e.to_string()))?;
        socket
            .send(Message::Text(
                r#"{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]}"#.into(),
            ))
            .await
            .map_err(|e| err(e.to_string()))?;
        // The first text frame answers the subscribe call.
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: serde_json::Value =
                        serde_json::from_str(&t).map_err(|e| err(format!("bad answer: {e}")))?;
                    if let Some(e) = v.get("error") {
                        return Err(err(format!("subscribe refused: {e}")));
                    }
                    break;
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(err(e.to_string())),
                None => return Err(err("closed before answering".into())),
            }
        }
        Ok(HeadStream {
            socket,
            url: url.clone(),
        })
    }

    /// The next new head; `None` once the connection is gone.
    pub async fn next(&mut self) -> Option<Header> {
        loop {
            match self.socket.next().await? {
                Ok(Message::Text(t)) => {
                    let v: serde_json::Value = match serde_json::from_str(&t) {
                        Ok(v) => v,
                        Err(e) => {
                            tracing::warn!(target: "indexer::ws", url = %self.url, "ignoring a bad frame: {e}");
                            continue;
                        }
                    };
                    let Some(result) = v.pointer("/params/result") else {
                        continue;
                    };
                    match parse_header(&result.to_string()) {
                        Ok(h) => return Some(h),
                        Err(e) => {
                            tracing::warn!(target: "indexer::ws", url = %self.url, "ignoring a bad head: {e}")
                        }
                    }
                }
                Ok(Message::Ping(p)) => {
                    if self.socket.send(Message::Pong(p)).await.is_err() {
                        return None;
                    }
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }
}
