import DroverAPI
import DroverCore
import DroverStore
import DroverTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
@testable import DroverCoordinator

/// `/metrics` (admin token), `/healthz`, `/readyz` and `/version` (no token), in-process.
@Suite struct HealthRouteTests {
    static func configuration() -> CoordinatorConfiguration {
        var configuration = CoordinatorConfiguration()
        configuration.adminToken = "admin"
        configuration.joinToken = "join"
        return configuration
    }

    @Test func metricsNeedAnAdminTokenAndTheOthersNone() async throws {
        let clock = ManualClock()
        let coordinator = try await buildCoordinator(configuration: Self.configuration(), store: InMemoryStore(), clock: clock,
                                                     monotonic: clock.monotonic, logger: ClusterShellTests.quiet)
        try await coordinator.application.test(.router) { client in
            let admin: HTTPFields = [.authorization: "Bearer admin", .contentType: "application/json"]
            let created = try await client.execute(uri: "/v1/tokens", method: .post, headers: admin,
                                                   body: ByteBuffer(bytes: try JSONEncoder().encode(TokenCreateRequest(team: "ml", role: .reader))))
            let reader = try JSONDecoder().decode(TokenCreated.self, from: Data(buffer: created.body)).token
            // Without a token /metrics is 401, with a team's reader token 403, with the admin token the page.
            #expect(try await client.execute(uri: "/metrics", method: .get).status == .unauthorized)
            #expect(try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(reader)"]).status == .forbidden)
            try await client.execute(uri: "/metrics", method: .get, headers: admin) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == MetricsPage.contentType)
                #expect(String(buffer: response.body).contains("drover_store_available 1"))
            }
            // /healthz, /readyz and /version answer without a token.
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .ok)
            try await client.execute(uri: "/version", method: .get) { response in
                let version = try JSONDecoder().decode(VersionView.self, from: Data(buffer: response.body))
                #expect(version == VersionView(version: DroverVersion.release, apiVersion: "v1"))
            }
        }
    }

    @Test func readyzIs503WhileTheStoreRefusesWritesAnd200OnceReloaded() async throws {
        let clock = ManualClock()
        let store = ControllableStore()
        let coordinator = try await buildCoordinator(configuration: Self.configuration(), store: store, clock: clock,
                                                     monotonic: clock.monotonic, logger: ClusterShellTests.quiet)
        try await coordinator.application.test(.router) { client in
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .ok)
            // Given a store that refuses a write,
            store.refuseWrites(true)
            let submit = #"{"name":"j","team":"ml","command":"true"}"#
            let admin: HTTPFields = [.authorization: "Bearer admin", .contentType: "application/json"]
            #expect(try await client.execute(uri: "/v1/jobs", method: .post, headers: admin, body: ByteBuffer(string: submit)).status
                    == .serviceUnavailable)
            // /readyz is 503 with a problem saying why, while /healthz stays 200 and /metrics says the store is unavailable;
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.contentType] == "application/problem+json")
                let problem = try JSONDecoder().decode(ProblemDetails.self, from: Data(buffer: response.body))
                #expect(problem.detail.hasPrefix("not ready: the store refused a write"), "\(problem.detail)")
            }
            #expect(try await client.execute(uri: "/healthz", method: .get).status == .ok)
            try await client.execute(uri: "/metrics", method: .get, headers: admin) { response in
                #expect(String(buffer: response.body).contains("drover_store_available 0"))
            }
            // once the store takes writes again and the state is reloaded, it is 200 again.
            store.refuseWrites(false)
            let deadline = ContinuousClock.now + .seconds(60)
            while try await client.execute(uri: "/readyz", method: .get).status != .ok, ContinuousClock.now < deadline {
                clock.advance(milliseconds: 200)
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try await client.execute(uri: "/readyz", method: .get).status == .ok)
        }
    }
}
