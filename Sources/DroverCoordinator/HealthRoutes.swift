import DroverAPI
import DroverCore
import HTTPTypes
import Hummingbird
import NIOCore

/// Whether the coordinator can lease now, from what it knows of its store. Serving at all
/// means the store was opened and loaded (the listener starts only after that); what can
/// still stop it is a store that refused a write, until ``StoreRecovery`` has reloaded.
struct Readiness: Equatable, Sendable {
    /// Why not, if not ready: what `/readyz` answers with its 503.
    var refusal: String?

    init(storeAvailable: Bool, outage: String?) {
        refusal = storeAvailable ? nil : """
            not ready: the store refused a write (\(outage ?? "reloading")); changes are refused (503) until the store takes \
            writes again and the coordinator has reloaded its state from it
            """
    }
}

extension Routes {
    /// `/healthz`, `/readyz` and `/version` (no token), and `/metrics` (admin token).
    func registerHealth(on router: Router<DroverRequestContext>) {
        router.get("/healthz") { _, _ in try json(["status": "ok"]) }
        router.get("/readyz") { _, _ in try readiness() }
        router.get("/version") { _, _ in try json(DroverVersion.view) }
        router.group("metrics")
            .add(middleware: AuthMiddleware(cluster: cluster, adminToken: configuration.adminToken, joinToken: configuration.joinToken))
            .get { _, context in
                try requireAdmin(context)
                return MetricsPage.response(for: cluster)
            }
    }

    /// 200 while the coordinator can lease; 503, problem+json saying why, while it cannot.
    func readiness() throws -> Response {
        let readiness = Readiness(storeAvailable: cluster.health.isAvailable, outage: cluster.health.currentOutage?.error)
        if let refusal = readiness.refusal { throw APIError(.serviceUnavailable, refusal, retryAfterSeconds: 1) }
        return try json(["status": "ready"])
    }
}

/// The `/metrics` page: gauges from live state (``MetricsSnapshot``), then the registry in
/// Prometheus text format.
enum MetricsPage {
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    static func response(for cluster: Cluster) -> Response {
        let page = cluster.metrics.render(cluster.queries.metricsSnapshot())
        var headers = HTTPFields()
        headers[.contentType] = contentType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: page)))
    }
}

extension ClusterQueries {
    /// The gauges' values, copied out of live state under the lock (no store read).
    func metricsSnapshot() -> MetricsSnapshot {
        let now = cluster.clock.now()
        let available = cluster.health.isAvailable
        return cluster.state.withLock { state in MetricsSnapshot(state: state, storeAvailable: available, now: now) }
    }
}
