import DroverCore
import DroverStore
import DroverStoreSQLite
import Foundation
import Testing

/// What every store does with webhooks, the outbox and the delivery log (migration 009), and
/// the event log streams read.
@Suite struct WebhookStoreTests {
    static func hook(_ id: String, team: String? = "ml") -> WebhookRecord {
        WebhookRecord(id: id, url: "https://hooks.example.com/\(id)", events: ["job.failed", "node.down"], team: team,
                      sealedSecret: "drover-sealed:v1:abc", createdAt: at(1), createdBy: "admin")
    }

    static func delivery(_ id: String, hook: String = "wh-1", due: Int64) -> DeliveryRecord {
        DeliveryRecord(id: id, webhook: hook, type: "job.failed", payload: #"{"type":"job.failed"}"#, createdAt: at(2), nextTry: at(due))
    }

    @Test(arguments: StoreKind.allCases)
    func webhooksLoadBackAndARemovedOneIsGone(kind: StoreKind) async throws {
        let store = try kind.make()
        try await store.apply([.putWebhook(Self.hook("wh-1")), .putWebhook(Self.hook("wh-2", team: nil)), .removeWebhook(id: "wh-1")])
        #expect(try await store.load().webhooks == [Self.hook("wh-2", team: nil)])
    }

    @Test(arguments: StoreKind.allCases)
    func deliveriesAreDueByTheirNextTryAndUpdatedInPlaceWithTheirTries(kind: StoreKind) async throws {
        let store = try kind.make()
        try await store.apply([.putDelivery(Self.delivery("msg_a", due: 10)), .putDelivery(Self.delivery("msg_b", due: 5)),
                               .putDelivery(Self.delivery("msg_c", hook: "wh-2", due: 50))])
        #expect(try await store.dueDeliveries(by: at(20), limit: 10).map(\.id) == ["msg_b", "msg_a"], "soonest first; msg_c not due")
        #expect(try await store.nextDeliveryDue() == at(5))
        // A failed try: logged, and the row moves to its next try.
        var retried = Self.delivery("msg_b", due: 5)
        (retried.tries, retried.nextTry, retried.lastError) = (1, at(60), "connection refused")
        var delivered = Self.delivery("msg_a", due: 10)
        (delivered.tries, delivered.state, delivered.nextTry, delivered.lastStatus) = (1, .delivered, nil, 204)
        try await store.apply([
            .appendDeliveryTry(DeliveryTry(delivery: "msg_b", number: 1, at: at(6), status: nil, error: "connection refused", durationMilliseconds: 3)),
            .putDelivery(retried),
            .appendDeliveryTry(DeliveryTry(delivery: "msg_a", number: 1, at: at(11), status: 204, error: nil, durationMilliseconds: 40)),
            .putDelivery(delivered),
        ])
        #expect(try await store.dueDeliveries(by: at(20), limit: 10).isEmpty)
        #expect(try await store.nextDeliveryDue() == at(50))
        #expect(try await store.delivery("msg_b") == retried)
        #expect(try await store.delivery("msg_a") == delivered)
        #expect(try await store.delivery("msg_x") == nil)
        #expect(try await store.deliveryTries(of: "msg_b") == [DeliveryTry(delivery: "msg_b", number: 1, at: at(6), status: nil, error: "connection refused",
                                                                          durationMilliseconds: 3)])
        // The log lists newest first and keeps each delivery's place after updates.
        #expect(try await store.deliveries(webhook: nil, limit: 10).map(\.id) == ["msg_c", "msg_b", "msg_a"])
        #expect(try await store.deliveries(webhook: "wh-1", limit: 1).map(\.id) == ["msg_b"])
    }

    @Test(arguments: StoreKind.allCases)
    func theEventLogPagesBothWaysByJobAndTeam(kind: StoreKind) async throws {
        let store = try kind.make()
        var web = sampleJob(2)
        web.spec.team = "web"
        func event(_ job: Int64?, _ to: String) -> Mutation {
            .appendEvent(Event(subject: job.map { "job/\($0)" } ?? "node/n1", job: job.map(JobID.init), at: at(3), from: nil, to: to, reason: "", actor: "x"))
        }
        try await store.apply([.putJob(sampleJob(1)), .putJob(web), event(1, "queued"), event(2, "queued"), event(nil, "down"), event(1, "running"),
                               event(2, "running")])
        let all = try await store.eventLog(after: nil, before: nil, job: nil, team: nil, limit: 100)
        #expect(all.map(\.id) == [1, 2, 3, 4, 5] && all[2].event.subject == "node/n1")
        #expect(try await store.eventLog(after: nil, before: nil, job: nil, team: nil, limit: 2).map(\.id) == [4, 5], "the most recent, oldest first")
        #expect(try await store.eventLog(after: nil, before: 4, job: nil, team: nil, limit: 2).map(\.id) == [2, 3])
        #expect(try await store.eventLog(after: 2, before: nil, job: nil, team: nil, limit: 2).map(\.id) == [3, 4])
        #expect(try await store.eventLog(after: 0, before: nil, job: JobID(1), team: nil, limit: 10).map(\.id) == [1, 4])
        #expect(try await store.eventLog(after: nil, before: nil, job: nil, team: "web", limit: 10).map(\.id) == [2, 5], "no node events for a team")
    }
}
