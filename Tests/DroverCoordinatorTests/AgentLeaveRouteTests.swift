import DroverAPI
import DroverCore
import DroverTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing
@testable import DroverCoordinator

/// `POST /v1/agents/leave` through the router the coordinator really builds.
@Suite struct AgentLeaveRouteTests {
    @Test func anAgentThatLeavesHasItsNodeDownAtOnceAndItsTokenStopsWorking() async throws {
        var configuration = CoordinatorConfiguration()
        configuration.adminToken = "admin"
        configuration.joinToken = "join"
        let clock = ManualClock()
        let coordinator = try await buildCoordinator(configuration: configuration, store: ControllableStore(), clock: clock, monotonic: clock.monotonic,
                                                     logger: ClusterShellTests.quiet)
        let cluster = coordinator.cluster
        let journal = Task { try await cluster.journal.run() }
        defer { journal.cancel() }
        let admin: HTTPFields = [.authorization: "Bearer admin"]
        let request = RegisterRequest(name: "a", cpu: 4, memory: 8 << 30, gpus: [], labels: [:], prices: PriceRates())
        try await coordinator.application.test(.router) { client in
            // Given a registered agent,
            let registered = try await client.execute(uri: "/v1/agents/register", method: .post,
                                                      headers: [.authorization: "Bearer join", .contentType: "application/json"],
                                                      body: ByteBuffer(bytes: try JSONEncoder().encode(request)))
            #expect(registered.status == .ok, "\(String(buffer: registered.body))")
            let token = try JSONDecoder().decode(RegisterResponse.self, from: Data(buffer: registered.body)).token
            let agent: HTTPFields = [.authorization: "Bearer \(token)"]
            // a person's token cannot make it leave;
            #expect(try await client.execute(uri: "/v1/agents/leave", method: .post, headers: admin).status == .forbidden)
            // when it leaves, its node is down at once,
            let left = try await client.execute(uri: "/v1/agents/leave", method: .post, headers: agent)
            #expect(left.status == .ok, "\(String(buffer: left.body))")
            let nodes = try await client.execute(uri: "/v1/nodes", method: .get, headers: admin)
            let states = try JSONDecoder().decode([NodeView].self, from: Data(buffer: nodes.body)).map(\.state)
            #expect(states == [.down])
            // and its token no longer authenticates it (a late heartbeat cannot bring the node back).
            #expect(try await client.execute(uri: "/v1/agents/leave", method: .post, headers: agent).status == .unauthorized)
        }
    }
}
