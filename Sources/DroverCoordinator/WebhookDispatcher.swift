import AsyncHTTPClient
import DroverCore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization

/// Sends the outbox's due deliveries, at least once each: signed per Standard Webhooks, at
/// most `concurrency` at a time, each try cut off after `tryTimeout`, every try recorded.
///
/// It reads due rows from the store and records tries through ``Cluster/mutate(_:)``; it
/// never holds the cluster's lock while sending, so a slow receiver slows no lease. Rows
/// still pending after a crash are due again on start: nothing is lost, a try in flight at
/// the crash is made again (same `webhook-id`).
struct WebhookDispatcher: Service {
    let cluster: Cluster
    let logger: Logger
    /// Longest one try may take (`--webhook-timeout`).
    let tryTimeout: Duration
    var concurrency = 8
    var http: HTTPClient = .shared

    /// Ids of the deliveries being tried now.
    let inFlight = InFlight()

    /// The deliveries being tried, and those whose try ended since the outbox was last read:
    /// a row read before its try was recorded must not be sent again.
    final class InFlight: Sendable {
        private struct State {
            var trying: Set<String> = []
            var endedSinceRead: Set<String> = []
        }

        private let state = Mutex(State())

        /// Call before reading the outbox: tries that ended before now are in what it reads.
        func beginRead() { state.withLock { $0.endedSinceRead = [] } }

        func claim(_ id: String, limit: Int) -> Bool {
            state.withLock { state in
                guard state.trying.count < limit, !state.endedSinceRead.contains(id) else { return false }
                return state.trying.insert(id).inserted
            }
        }

        func release(_ id: String) {
            state.withLock { state in
                state.trying.remove(id)
                state.endedSinceRead.insert(id)
            }
        }

        var count: Int { state.withLock { $0.trying.count } }
    }

    func run() async throws {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelledOrShuttingDown {
                let snapshot = cluster.webhooks.deliveries.snapshot(for: WebhookHub.channel)
                var wait: Duration = .seconds(1)
                do {
                    inFlight.beginRead()
                    let now = cluster.clock.now()
                    for delivery in try await cluster.store.dueDeliveries(by: now, limit: concurrency * 2)
                    where inFlight.claim(delivery.id, limit: concurrency) {
                        group.addTask {
                            await self.tryOnce(delivery)
                            self.inFlight.release(delivery.id)
                            self.cluster.webhooks.deliveries.wakeAll()
                        }
                    }
                    if inFlight.count < concurrency, let due = try await cluster.store.nextDeliveryDue(), due > now {
                        wait = min(.seconds(60), .milliseconds(due.milliseconds - now.milliseconds))
                    } else if inFlight.count < concurrency, try await cluster.store.nextDeliveryDue() == nil {
                        wait = .seconds(60)
                    }
                } catch {
                    logger.warning("webhook outbox not read; trying again", metadata: ["error": "\(error)"])
                }
                let timeout = wait
                await cancelWhenGracefulShutdown {
                    await cluster.webhooks.deliveries.wait(node: WebhookHub.channel, since: snapshot, timeout: timeout)
                }
            }
            group.cancelAll()
        }
    }

    /// One try of `delivery`, recorded with its answer or error and duration.
    func tryOnce(_ delivery: DeliveryRecord) async {
        let started = cluster.monotonic.now
        let at = cluster.clock.now()
        var status: Int?
        var failure: String?
        if let hook = cluster.webhooks.hook(delivery.webhook) {
            do {
                let key = try WebhookSignature.key(of: try cluster.secrets.open(hook.sealedSecret, name: Cluster.secretName(hook.id)))
                status = try await send(delivery, to: hook.url, key: key, at: at)
                if let status, !(200..<300).contains(status) { failure = "the receiver answered \(status)" }
                cluster.metrics.webhookDelivered(result: status.map { (200..<300).contains($0) } == true ? .delivered : .rejected)
            } catch is CancellationError {
                return // shutting down: the row stays pending and is tried after the restart
            } catch {
                failure = "\(error)"
                cluster.metrics.webhookDelivered(result: error is WebhookTryTimedOut ? .timedOut : .unreachable)
            }
        } else {
            failure = "webhook \(delivery.webhook) was removed"
        }
        let elapsed = cluster.monotonic.now - started
        var random = SystemRandomNumberGenerator()
        var settled = WebhookRetry.settle(delivery, status: status, error: failure, at: cluster.clock.now(), random: &random)
        if cluster.webhooks.hook(delivery.webhook) == nil { (settled.state, settled.nextTry) = (.failed, nil) }
        let record = DeliveryTry(delivery: delivery.id, number: settled.tries, at: at, status: status, error: failure,
                                 durationMilliseconds: elapsed.milliseconds)
        do {
            try await cluster.recordTry(record, settled: settled)
        } catch {
            logger.warning("webhook try not recorded; the delivery stays due", metadata: ["delivery.id": "\(delivery.id)", "error": "\(error)"])
        }
        logger.info("webhook try", metadata: ["delivery.id": "\(delivery.id)", "webhook.id": "\(delivery.webhook)",
                                               "status": "\(status.map(String.init) ?? "none")", "state": "\(settled.state.rawValue)"])
    }

    /// POSTs the body with its signature; answers the status. Throws past `tryTimeout`.
    private func send(_ delivery: DeliveryRecord, to url: String, key: [UInt8], at: Timestamp) async throws -> Int {
        let seconds = at.milliseconds / 1000
        let body = Array(delivery.payload.utf8)
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "drover-webhooks")
        request.headers.add(name: "webhook-id", value: delivery.id)
        request.headers.add(name: "webhook-timestamp", value: String(seconds))
        request.headers.add(name: "webhook-signature", value: WebhookSignature.sign(id: delivery.id, timestamp: seconds, body: body, key: key))
        request.body = .bytes(ByteBuffer(bytes: body))
        let prepared = request
        let timeout = tryTimeout
        let http = self.http
        let monotonic = cluster.monotonic
        // The whole try, answer body included, is bounded: a receiver that hangs is cut off.
        return try await withThrowingTaskGroup(of: Int?.self) { group in
            group.addTask {
                // The client's own deadline is a backstop only: the race below cuts the try off.
                let response = try await http.execute(prepared, timeout: .milliseconds(timeout.milliseconds + 5_000))
                _ = try await response.body.collect(upTo: 1 << 16)
                return Int(response.status.code)
            }
            group.addTask {
                try await monotonic.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let status = first else {
                throw WebhookTryTimedOut(seconds: Int(timeout.components.seconds))
            }
            return status
        }
    }
}

struct WebhookTryTimedOut: Error, CustomStringConvertible {
    var seconds: Int
    var description: String { "no answer within \(seconds) s; cut off" }
}
