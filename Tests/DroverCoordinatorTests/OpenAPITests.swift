import DroverCore
import DroverStore
import DroverTesting
import Foundation
import Hummingbird
import Logging
import Testing
@testable import DroverCoordinator

@Suite struct OpenAPITests {
    /// The package root, from this file's path.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func document() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json.utf8)) as? [String: Any])
    }

    @Test func theServedDocumentIsDocsOpenapiJSON() throws {
        let served = try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json.utf8)) as? NSDictionary
        let file = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.root.appendingPathComponent("docs/openapi.json"))) as? NSDictionary
        #expect(served != nil && served == file, "Sources/DroverCoordinator/OpenAPIDocument.swift and docs/openapi.json differ")
        #expect(try Self.document()["openapi"] as? String == "3.1.0")
    }

    @Test func everyRegisteredRouteIsDocumentedAndViceVersa() throws {
        // Given the router the coordinator really builds,
        let cluster = Cluster(state: ClusterState(), store: InMemoryStore(), journal: Journal(store: InMemoryStore(), logger: Logger(label: "test")),
                              clock: ManualClock(), configuration: CoordinatorConfiguration(), logger: Logger(label: "test"))
        let router = Router(context: DroverRequestContext.self)
        Routes(cluster: cluster, configuration: CoordinatorConfiguration()).register(on: router)
        let registered = Set(router.routes.map { route in
            "\(route.method.rawValue) " + route.path.description.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }
                .joined(separator: "/")
        }.map { $0.replacingOccurrences(of: " ", with: " /") })
        // then the document lists exactly its routes.
        let paths = try #require(try Self.document()["paths"] as? [String: [String: Any]])
        let documented = Set(paths.flatMap { path, operations in operations.keys.map { "\($0.uppercased()) \(path)" } })
        #expect(registered.subtracting(documented).isEmpty, "registered but not documented: \(registered.subtracting(documented).sorted())")
        #expect(documented.subtracting(registered).isEmpty, "documented but not registered: \(documented.subtracting(registered).sorted())")
        #expect(registered.count >= 20)
    }
}
