import Hummingbird
import Logging
import NIOCore

/// The listener of `--metrics-listen`: `GET /metrics` without a token, for a Prometheus
/// that holds no Drover token. It follows the API's transport rule (``Transport``): plain
/// HTTP on loopback, TLS beyond it unless `--insecure-http`.
enum MetricsListener {
    static func application(cluster: Cluster, address: ListenAddress, generated: GeneratedTLS.Prepared?, logger: Logger,
                            onListening: @escaping @Sendable (Listening) async -> Void) throws -> some ApplicationProtocol {
        let transport = Transport(cluster.configuration, host: address.host)
        let router = Router(context: DroverRequestContext.self)
        router.add(middleware: ProblemMiddleware<DroverRequestContext>(logger: logger))
        router.get("/metrics") { _, _ in MetricsPage.response(for: cluster) }
        return Application(
            router: router,
            server: try serverBuilder(for: transport, host: address.host, port: address.port, generated: generated, logger: logger),
            configuration: .init(address: .hostname(address.host, port: address.port), serverName: "drover-metrics"),
            onServerRunning: { channel in
                let bound = channel.localAddress
                await onListening(Listening(host: bound?.ipAddress ?? address.host, port: bound?.port ?? address.port, scheme: transport.scheme,
                                            caPin: transport == .generatedCertificate ? generated?.pin : nil))
            },
            logger: logger)
    }
}
