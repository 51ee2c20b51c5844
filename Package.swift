// swift-tools-version:6.0
import PackageDescription

let swift6: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "Drover",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "drover", targets: ["drover"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // Pure domain: values, state machines, scheduling, retry decisions. No I/O.
        .target(name: "DroverCore", swiftSettings: swift6),
        // The Store protocol, its mutations and an in-memory implementation.
        .target(name: "DroverStore", dependencies: ["DroverCore"], swiftSettings: swift6),
        // The embedded default store: one SQLite file in WAL mode.
        .target(
            name: "DroverStoreSQLite",
            dependencies: ["DroverStore", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "GRDBSQLite", package: "GRDB.swift")],
            swiftSettings: swift6),
        // Codable wire types and job-spec parsing shared by server, agent and CLI.
        .target(
            name: "DroverAPI",
            dependencies: ["DroverCore", .product(name: "Yams", package: "Yams")],
            swiftSettings: swift6),
        // Trust on the network: the CA pin (SHA-256 of the SubjectPublicKeyInfo) and PEM parsing, shared by
        // the coordinator that prints the pin and the clients that check it.
        .target(
            name: "DroverTrust",
            dependencies: [
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swift6),
        // The typed HTTP client used by the agent and the CLI.
        .target(
            name: "DroverClient",
            dependencies: [
                "DroverAPI", "DroverTrust",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swift6),
        .target(
            name: "DroverCoordinator",
            dependencies: [
                "DroverCore", "DroverAPI", "DroverStore", "DroverStoreSQLite", "DroverTrust",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                // Webhook deliveries (WebhookDispatcher).
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                // HTTPParserError: malformed framing is the client's fault (400), not ours.
                .product(name: "NIOHTTP1", package: "swift-nio"),
                // GET /metrics: a per-coordinator registry rendered in Prometheus text format.
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swift6,
            // docs/openapi.json, the one copy of the HTTP contract, becomes `OpenAPIDocument.json` at build time.
            plugins: ["EmbedOpenAPI"]),
        // Build step: writes docs/openapi.json into a generated Swift file as a string literal.
        .plugin(name: "EmbedOpenAPI", capability: .buildTool(), dependencies: ["embed-openapi"]),
        .executableTarget(name: "embed-openapi", path: "Plugins/EmbedOpenAPITool", swiftSettings: swift6),
        .target(
            name: "DroverAgent",
            dependencies: [
                "DroverCore", "DroverAPI", "DroverClient", "DroverTrust",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swift6),
        .executableTarget(
            name: "drover",
            dependencies: [
                "DroverAPI", "DroverClient", "DroverCoordinator", "DroverAgent",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                // The one MetricsSystem.bootstrap (Hummingbird's HTTP metrics) happens in `drover coordinator`.
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swift6),
        // Benchmark driver: simulated agents that lease and report at once (scripts/bench scheduler).
        .executableTarget(
            name: "drover-bench",
            dependencies: [
                "DroverAPI", "DroverClient", "DroverCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swift6),
        // Test support: a harness that starts real coordinator and agent processes.
        .target(
            name: "DroverTesting",
            dependencies: ["DroverCore", "DroverAPI", "DroverClient", "DroverStore", "DroverAgent", "DroverTrust"],
            swiftSettings: swift6),
        .testTarget(name: "DroverCoreTests", dependencies: ["DroverCore", "DroverTesting"], swiftSettings: swift6),
        .testTarget(
            name: "DroverStoreTests",
            dependencies: ["DroverStore", "DroverStoreSQLite", "DroverTesting", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swift6),
        .testTarget(name: "DroverAPITests", dependencies: ["DroverAPI", "DroverTesting"], swiftSettings: swift6),
        .testTarget(
            name: "DroverCoordinatorTests",
            dependencies: [
                "DroverCoordinator", "DroverStore", "DroverStoreSQLite", "DroverTesting", "DroverTrust", .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: swift6),
        .testTarget(name: "DroverClientTests", dependencies: ["DroverClient", "DroverAPI"], swiftSettings: swift6),
        .testTarget(name: "DroverTrustTests", dependencies: ["DroverTrust"], swiftSettings: swift6),
        // The CLI's pure parts (what `wait` shows, log tails), tested without a cluster.
        .testTarget(name: "DroverCLITests", dependencies: ["drover", "DroverAPI"], swiftSettings: swift6),
        .testTarget(
            name: "DroverAgentTests", dependencies: ["DroverAgent", "DroverTesting"], swiftSettings: swift6),
        .testTarget(
            name: "DroverIntegrationTests",
            dependencies: [
                "DroverTesting", "DroverClient", "DroverAPI", "DroverTrust",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swift6),
    ]
)
