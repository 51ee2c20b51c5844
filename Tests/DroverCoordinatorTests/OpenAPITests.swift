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

    /// The document the coordinator serves at /v1/openapi.json, parsed.
    static func document() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.json.utf8)) as? [String: Any])
    }

    @Test func theServedDocumentIsDocsOpenapiJSONByteForByte() throws {
        // Given docs/openapi.json as the repository holds it,
        let file = try Data(contentsOf: Self.root.appendingPathComponent("docs/openapi.json"))
        // the text the route serves (embedded at build time by Plugins/EmbedOpenAPI) is exactly its bytes.
        #expect(Array(OpenAPIDocument.json.utf8) == Array(file), "the embedded document differs from docs/openapi.json: rebuild")
        #expect(try Self.document()["openapi"] as? String == "3.1.0")
    }

    @Test func everyReferenceResolvesInsideTheDocument() throws {
        // Given the document, with its shared schemas and responses,
        let document = try Self.document()
        var references: [String] = []
        func collect(_ node: Any) {
            if let object = node as? [String: Any] {
                if let reference = object["$ref"] as? String { references.append(reference) }
                object.values.forEach(collect)
            } else if let array = node as? [Any] {
                array.forEach(collect)
            }
        }
        collect(document)
        // every $ref is a JSON pointer to something in it.
        for reference in references {
            #expect(reference.hasPrefix("#/"), "\(reference) points outside the document")
            let target = reference.dropFirst(2).split(separator: "/").reduce(document as Any?) { node, part in
                (node as? [String: Any])?[part.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")]
            }
            #expect(target != nil, "\(reference) does not resolve")
        }
        #expect(references.contains { $0.hasPrefix("#/components/responses/") })
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
        // (A path item's other keys, such as parameters or $ref, are not operations.)
        let methods: Set = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]
        let documented = Set(paths.flatMap { path, item in item.keys.filter(methods.contains).map { "\($0.uppercased()) \(path)" } })
        #expect(registered.subtracting(documented).isEmpty, "registered but not documented: \(registered.subtracting(documented).sorted())")
        #expect(documented.subtracting(registered).isEmpty, "documented but not registered: \(documented.subtracting(registered).sorted())")
        #expect(registered.count >= 20)
    }
}
