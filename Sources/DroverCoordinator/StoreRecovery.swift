import DroverCore
import DroverStore
import Hummingbird
import Logging
import ServiceLifecycle

/// After a failed write, waits for the store to take writes again and reloads memory from it,
/// or stops the coordinator with a clear error once the outage lasts past
/// ``CoordinatorConfiguration/storeOutageLimit``.
struct StoreRecovery: Service {
    let cluster: Cluster
    let logger: Logger

    func run() async throws {
        for await _ in cluster.health.outageStarts.cancelOnGracefulShutdown() {
            try await recover()
        }
    }

    private func recover() async throws {
        var delay = Duration.milliseconds(100)
        while !Task.isCancelledOrShuttingDown {
            do {
                try await cluster.reloadFromStore()
                logger.notice("store is back; state reloaded from it, changes resumed")
                return
            } catch {
                let outage = cluster.health.currentOutage
                let lasted = outage.map { cluster.monotonic.now - $0.since } ?? .zero
                if lasted >= cluster.configuration.storeOutageLimit {
                    throw StoreOutageTooLong(lasted: lasted, cause: "\(error)")
                }
                logger.warning("store still unavailable; retrying", metadata: ["error": "\(error)", "retry.in": "\(delay)"])
            }
            let wait = delay
            try? await cancelWhenGracefulShutdown { try await cluster.monotonic.sleep(for: wait) }
            delay = min(delay * 2, .seconds(5))
        }
    }
}

/// The store stayed unavailable past the limit: the coordinator exits so a supervisor can
/// restart it (or an operator can look), rather than refuse every request forever.
struct StoreOutageTooLong: Error, CustomStringConvertible {
    var lasted: Duration
    var cause: String

    var description: String {
        "the store has refused writes for \(Quantity.formatDuration(lasted.milliseconds)) (last error: \(cause)); stopping. "
            + "Fix the store (disk space, permissions, database server) and start the coordinator again; "
            + "--store-outage-limit sets how long to wait"
    }
}

extension Cluster {
    /// Replaces memory by what the store holds, once a probe write proves it takes writes
    /// again. Memory's own view is discarded: it may hold changes the store never got.
    func reloadFromStore() async throws {
        let now = clock.now()
        let outage = health.currentOutage
        // A store can be readable and still refuse writes (a full disk): prove it takes one.
        try await store.apply([.appendEvent(Event(
            subject: "coordinator", job: nil, at: now, from: "store unavailable", to: "store available",
            reason: "store is back after refusing a write (\(outage?.error ?? "unknown error")); state reloaded from it", actor: "coordinator"))])
        let loaded = try await store.load()
        state.withLock { state in
            // The policy in force, rate card included (a SIGHUP may have changed it since start).
            state = loaded.clusterState(now: clock.now(), policy: state.policy)
            webhooks.replaceAll(loaded.webhooks)
            journal.resume()
        }
        health.recovered()
        // Polls that were refused come back on their own; parked ones may now find work.
        wakeups.wakeAll()
    }

    /// Refuses a change while the store is unavailable (memory is about to be reloaded).
    func requireStore() throws(StoreUnavailable) {
        guard health.isAvailable else { throw storeUnavailable() }
    }

    func storeUnavailable() -> StoreUnavailable {
        StoreUnavailable(cause: health.currentOutage?.error ?? "reloading", retryAfterSeconds: 1)
    }
}

/// Answers every /v1 request with 503 while the store is unavailable: memory may hold
/// changes that were never committed, so even reads of it would show what may vanish.
struct StoreOutageMiddleware<Context: RequestContext>: RouterMiddleware {
    let cluster: Cluster

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        try cluster.requireStore()
        return try await next(request, context)
    }
}
