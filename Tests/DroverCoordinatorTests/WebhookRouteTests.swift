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

/// `/v1/webhooks` and `/v1/events` on the router the coordinator builds: bad input is a 400
/// naming the field with nothing stored; team tokens reach their own team's hooks and events only.
@Suite struct WebhookRouteTests {
    static func problem(_ body: ByteBuffer) throws -> ProblemDetails {
        try JSONDecoder().decode(ProblemDetails.self, from: Data(buffer: body))
    }

    static func headers(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)", .contentType: "application/json"] }

    @Test func badRegistrationsAre400sNamingTheFieldAndStoreNothing() async throws {
        var configuration = CoordinatorConfiguration()
        configuration.adminToken = "admin"
        configuration.joinToken = "join"
        let clock = ManualClock()
        let store = InMemoryStore()
        let coordinator = try await buildCoordinator(configuration: configuration, store: store, clock: clock, monotonic: clock.monotonic,
                                                     logger: ClusterShellTests.quiet)
        try await coordinator.application.test(.router) { client in
            let cases: [(body: String, field: String, says: String)] = [
                (#"{"url":"https://x.example/h","events":["job.succeded"]}"#, "events", "did you mean 'job.succeeded'?"),
                (#"{"url":"https://x.example/h","events":["gate.failed"]}"#, "events", "events are job.succeeded, job.failed"),
                (#"{"url":"https://x.example/h","events":[]}"#, "events", "at least one event"),
                (#"{"url":"ftp://x.example/h","events":["job.failed"]}"#, "url", "is not an http(s) URL with a host"),
                (#"{"url":"https://x.example/h","events":["job.failed"],"evnets":["x"]}"#, "evnets", "unknown field 'evnets'"),
                (#"{"url":"https://x.example/h","events":["job.failed"],"secret":"hunter2"}"#, "secret", "whsec_"),
                (#"{"url":"https://x.example/h","events":["job.failed"],"team":"Bad Team!"}"#, "team", "may only contain letters"),
                (#"{"events":["job.failed"]}"#, "url", "url"),
            ]
            for (body, field, says) in cases {
                try await client.execute(uri: "/v1/webhooks", method: .post, headers: Self.headers("admin"), body: ByteBuffer(string: body)) { response in
                    #expect(response.status == .badRequest, "\(body)")
                    let problem = try Self.problem(response.body)
                    #expect(problem.field == field, "\(body): \(problem)")
                    #expect(problem.detail.contains(says), "\(body): \(problem.detail)")
                }
            }
        }
        #expect(try await store.load().webhooks.isEmpty)
    }

    @Test func teamTokensRegisterForTheirOwnTeamAndSeeOnlyTheirOwnHooksAndEvents() async throws {
        var configuration = CoordinatorConfiguration()
        configuration.adminToken = "admin"
        configuration.joinToken = "join"
        let clock = ManualClock()
        let store = InMemoryStore()
        let coordinator = try await buildCoordinator(configuration: configuration, store: store, clock: clock, monotonic: clock.monotonic,
                                                     logger: ClusterShellTests.quiet)
        let cluster = coordinator.cluster
        try await coordinator.application.test(.router) { client in
            let ml = try await cluster.createToken(role: .submitter, team: "ml", by: "admin").1
            let reader = try await cluster.createToken(role: .reader, team: "ml", by: "admin").1
            let web = try await cluster.createToken(role: .submitter, team: "web", by: "admin").1
            let hook = #"{"url":"https://x.example/h","events":["job.finished"]"#
            // Another team's hook: 403, saying whose the token is.
            try await client.execute(uri: "/v1/webhooks", method: .post, headers: Self.headers(ml), body: ByteBuffer(string: hook + #","team":"web"}"#)) { response in
                #expect(response.status == .forbidden)
                let problem = try Self.problem(response.body)
                #expect(problem.field == "team" && problem.detail.contains("for team ml only, not web"), "\(problem)")
            }
            try await client.execute(uri: "/v1/webhooks", method: .post, headers: Self.headers(reader), body: ByteBuffer(string: hook + "}")) { response in
                #expect(response.status == .forbidden)
            }
            // Without a team, the token's own; the secret made is answered once.
            let mine = try await client.execute(uri: "/v1/webhooks", method: .post, headers: Self.headers(ml), body: ByteBuffer(string: hook + "}")) { response in
                #expect(response.status == .created)
                return try JSONDecoder().decode(WebhookCreated.self, from: Data(buffer: response.body))
            }
            #expect(mine.webhook.team == "ml" && mine.secret?.hasPrefix("whsec_") == true)
            let given = "whsec_" + Data(repeating: 7, count: 24).base64EncodedString()
            let all = try await client.execute(uri: "/v1/webhooks", method: .post, headers: Self.headers("admin"),
                                               body: ByteBuffer(string: hook + #","secret":"\#(given)"}"#)) { response in
                #expect(response.status == .created)
                return try JSONDecoder().decode(WebhookCreated.self, from: Data(buffer: response.body))
            }
            #expect(all.webhook.team == nil && all.secret == nil, "a given secret is not echoed")
            // Each token sees its own: the web team none, the ml team its one, the admin both.
            for (token, expected) in [(web, [String]()), (ml, [mine.webhook.id]), ("admin", [mine.webhook.id, all.webhook.id])] {
                try await client.execute(uri: "/v1/webhooks", method: .get, headers: Self.headers(token)) { response in
                    let ids = try JSONDecoder().decode([WebhookView].self, from: Data(buffer: response.body)).map(\.id)
                    #expect(Set(ids) == Set(expected))
                }
            }
            try await client.execute(uri: "/v1/webhooks/\(mine.webhook.id)", method: .delete, headers: Self.headers(web)) { response in
                #expect(response.status == .notFound)
            }
            // Events: each team's job, and who sees what.
            let mlJob = try await cluster.submit(JobSpec(name: "a", team: "ml", kind: .batch, taskCount: 1, command: ["true"],
                                                         resources: Resources(millicores: 100, memoryBytes: 1 << 20, gpus: 0)), by: "admin")
            let webJob = try await cluster.submit(JobSpec(name: "b", team: "web", kind: .batch, taskCount: 1, command: ["true"],
                                                          resources: Resources(millicores: 100, memoryBytes: 1 << 20, gpus: 0)), by: "admin")
            try await client.execute(uri: "/v1/events", method: .get, headers: Self.headers(ml)) { response in
                #expect(response.status == .ok)
                let events = try JSONDecoder().decode([StreamEventView].self, from: Data(buffer: response.body))
                #expect(events.map(\.data.subject) == ["job/\(mlJob.id)"] && events.first?.type == "job.queued")
            }
            try await client.execute(uri: "/v1/events", method: .get, headers: Self.headers("admin")) { response in
                let subjects = try JSONDecoder().decode([StreamEventView].self, from: Data(buffer: response.body)).map(\.data.subject)
                #expect(subjects.contains("job/\(mlJob.id)") && subjects.contains("job/\(webJob.id)"))
            }
            try await client.execute(uri: "/v1/events?job=\(webJob.id)", method: .get, headers: Self.headers(ml)) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/v1/events?follow=maybe", method: .get, headers: Self.headers(ml)) { response in
                #expect(response.status == .badRequest)
                let problem = try Self.problem(response.body)
                #expect(problem.field == "follow")
            }
        }
    }
}
