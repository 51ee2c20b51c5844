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

/// Request bodies with enum values: an unknown one is a 400 naming the field and the values.
@Suite struct WireEnumRouteTests {
    static func problem(_ body: ByteBuffer) throws -> ProblemDetails {
        try JSONDecoder().decode(ProblemDetails.self, from: Data(buffer: body))
    }

    @Test func anUnknownOutcomeIsRefusedNamingTheFieldWhileLostIsRefusedPerReport() async throws {
        var configuration = CoordinatorConfiguration()
        configuration.adminToken = "admin"
        configuration.joinToken = "join"
        let clock = ManualClock()
        let coordinator = try await buildCoordinator(configuration: configuration, store: InMemoryStore(), clock: clock, monotonic: clock.monotonic,
                                                     logger: ClusterShellTests.quiet)
        try await coordinator.application.test(.router) { client in
            // Given a registered agent,
            let join: HTTPFields = [.authorization: "Bearer join", .contentType: "application/json"]
            let registration = RegisterRequest(name: "a", cpu: 1, memory: 1 << 30, gpus: [], labels: [:], prices: PriceRates())
            let registered = try await client.execute(uri: "/v1/agents/register", method: .post, headers: join,
                                                      body: ByteBuffer(bytes: try JSONEncoder().encode(registration))) { response in
                try JSONDecoder().decode(RegisterResponse.self, from: Data(buffer: response.body))
            }
            let agent: HTTPFields = [.authorization: "Bearer \(registered.token)", .contentType: "application/json"]
            // when a batch holds an outcome no version knows, the whole batch is a 400 naming it;
            let bad = #"{"reports":[{"attemptId":"1","outcome":"succeeded"},{"attemptId":"2","outcome":"exploded"}]}"#
            try await client.execute(uri: "/v1/agents/reports", method: .post, headers: agent, body: ByteBuffer(string: bad)) { response in
                #expect(response.status == .badRequest)
                let problem = try Self.problem(response.body)
                #expect(problem.field == "reports[1].outcome")
                #expect(problem.description == #"reports[1].outcome: "exploded" is not one of succeeded, failed, timed_out, cancelled, preempted"#)
            }
            // a report of `lost` (the coordinator's to decide) is refused on its own, as before.
            let lost = #"{"reports":[{"attemptId":"1","outcome":"lost"}]}"#
            try await client.execute(uri: "/v1/agents/reports", method: .post, headers: agent, body: ByteBuffer(string: lost)) { response in
                #expect(response.status == .ok)
                let results = try JSONDecoder().decode(ReportResults.self, from: Data(buffer: response.body)).results
                #expect(results.map(\.status) == [.invalid])
                #expect(results.first?.detail == "outcome must be succeeded, failed, timed_out, cancelled or preempted")
            }
            // An unknown token role is a 400 naming the field and the roles; a known one that may not be given, too.
            let admin: HTTPFields = [.authorization: "Bearer admin", .contentType: "application/json"]
            for (role, detail) in [("boss", #""boss" is not one of admin, submitter, reader, join"#), ("admin", "role must be submitter or reader")] {
                let body = ByteBuffer(string: #"{"team":"ml","role":"\#(role)"}"#)
                try await client.execute(uri: "/v1/tokens", method: .post, headers: admin, body: body) { response in
                    #expect(response.status == .badRequest)
                    let problem = try Self.problem(response.body)
                    #expect(problem.field == "role" && problem.detail == detail, "\(problem)")
                }
            }
        }
    }
}
