import Metrics
import Prometheus

/// The names Hummingbird's `MetricsMiddleware` records under (swift-metrics labels such as
/// `hb.requests`, dimensions such as `http.route`), renamed into Drover's families so the
/// page follows Prometheus' conventions (`_total`, `_seconds`, a `drover_` prefix).
/// `http.route` is the route's pattern (`/v1/jobs/:id`), never a request path, so the
/// series stay bounded.
public enum HTTPMetricNames {
    static let names: [String: String] = [
        "hb.requests": "drover_http_requests_total",
        "hb.request.errors": "drover_http_request_errors_total",
        "http.server.request.duration": "drover_http_request_duration_seconds",
        "http.server.active_requests": "drover_http_active_requests",
    ]

    static let dimensions: [String: String] = [
        "http.route": "route",
        "http.request.method": "method",
        "http.response.status_code": "status",
        "error.type": "status",
    ]

    /// Drover's name and labels for a swift-metrics label and dimensions; others keep theirs.
    static func rename(_ label: String, _ dimensions: [(String, String)]) -> (String, [(String, String)]) {
        (names[label] ?? label, dimensions.map { (Self.dimensions[$0.0] ?? $0.0, $0.1) })
    }

    /// The swift-metrics factory to bootstrap `MetricsSystem` with, once per process, so the
    /// HTTP metrics land in `registry` (the coordinator's, ``CoordinatorMetrics/registry``).
    public static func factory(registry: PrometheusCollectorRegistry) -> any MetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.nameAndLabelSanitizer = { label, dimensions in rename(label, dimensions) }
        return factory
    }
}
