//! The `Jobs` port on Cloudflare Queues.

use crate::platform::ports::{Jobs, PortError};
use crate::platform::queue_messages::{QueueMessage, QueueName};
use worker::Env;

pub struct Queues<'a>(pub &'a Env);

impl Jobs for Queues<'_> {
    async fn send(&self, queue: QueueName, message: &QueueMessage) -> Result<(), PortError> {
        let producer = self.0.queue(queue.binding()).map_err(|e| PortError(format!("queue binding {}: {e}", queue.binding())))?;
        producer.send(message).await.map_err(|e| PortError(format!("sending to {}: {e}", queue.queue_name())))
    }
}

/// Sends a body that may not parse as a `QueueMessage` (dead-lettering keeps it as is).
pub async fn send_raw_json(env: &Env, queue: QueueName, body: &serde_json::Value) -> Result<(), PortError> {
    let producer = env.queue(queue.binding()).map_err(|e| PortError(format!("queue binding {}: {e}", queue.binding())))?;
    producer.send(body).await.map_err(|e| PortError(format!("sending to {}: {e}", queue.queue_name())))
}
