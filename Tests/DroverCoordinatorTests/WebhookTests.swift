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

/// Signing, retries and the outbox in-process; the routes' checks and scoping on a test router.
@Suite struct WebhookTests {
    // MARK: - Signing (Standard Webhooks)

    @Test func theSignatureMatchesTheStandardWebhooksTestVector() throws {
        // The example of the Standard Webhooks specification (its README), also checked with python3's hmac.
        let key = try WebhookSignature.key(of: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        let signature = WebhookSignature.sign(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1614265330,
                                              body: Array(#"{"test": 2432232314}"#.utf8), key: key)
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        // Any other byte of the body changes it.
        #expect(WebhookSignature.sign(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1614265330,
                                      body: Array(#"{"test": 2432232315}"#.utf8), key: key) != signature)
    }

    @Test func aSecretIsWhsecAndTheBase64OfEnoughBytesAndAMadeOneIsSo() throws {
        for bad in ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_not base64!", "whsec_" + Data(count: 8).base64EncodedString()] {
            #expect(throws: APIError.self) { try WebhookSignature.key(of: bad) }
        }
        let made = WebhookSignature.generateSecret()
        #expect(made.hasPrefix("whsec_"))
        #expect(try WebhookSignature.key(of: made).count == 32)
        #expect(WebhookSignature.generateSecret() != made)
    }

    // MARK: - Retries

    @Test func theFirstRetryComesWithinTenSecondsAndLaterOnesBackOffUpToAnHour() {
        var random = SplitMix64(seed: 7)
        for _ in 0..<1000 {
            let first = WebhookRetry.delay(afterTries: 1, random: &random)
            #expect(first >= 4_000 && first <= 6_000)
        }
        var previous: Int64 = 0
        for tries in 1...8 {
            let delay = WebhookRetry.delay(afterTries: tries, random: &random)
            #expect(delay > previous * 12 / 10 / 2, "try \(tries): \(delay) ms does not grow")
            previous = delay
        }
        #expect(WebhookRetry.delay(afterTries: 40, random: &random) <= 3_600_000 * 12 / 10)
    }

    @Test func aTryIsDeliveredOnA2xxRetriedOnAFailureAndGivenUpPastTheWindow() {
        var random = SplitMix64(seed: 1)
        let created = Timestamp(milliseconds: 1_000_000)
        let pending = DeliveryRecord(id: "msg_1", webhook: "wh-1", type: "job.failed", payload: "{}", createdAt: created, nextTry: created)
        let delivered = WebhookRetry.settle(pending, status: 204, error: nil, at: created, random: &random)
        #expect(delivered.state == .delivered && delivered.nextTry == nil && delivered.tries == 1 && delivered.lastStatus == 204)
        let failedOnce = WebhookRetry.settle(pending, status: 500, error: "the receiver answered 500", at: created, random: &random)
        #expect(failedOnce.state == .pending && failedOnce.tries == 1 && failedOnce.lastError == "the receiver answered 500")
        #expect(failedOnce.nextTry! > created && failedOnce.nextTry!.milliseconds - created.milliseconds <= 10_000)
        // 25 hours later the next try would fall outside the window: given up.
        var late = failedOnce
        late.tries = 30
        let lateTry = created.adding(milliseconds: WebhookRetry.windowMilliseconds - 60_000)
        let givenUp = WebhookRetry.settle(late, status: nil, error: "connection refused", at: lateTry, random: &random)
        #expect(givenUp.state == .failed && givenUp.nextTry == nil && givenUp.tries == 31)
        // Within the window it is still retried: at least 24 hours of tries.
        let dayLater = WebhookRetry.settle(late, status: nil, error: "connection refused", at: created.adding(milliseconds: 24 * 3_600_000 - 3_600_000 * 13 / 10),
                                           random: &random)
        #expect(dayLater.state == .pending)
    }

    // MARK: - Events found in transitions

    @Test func occurrencesAreEndedJobsFailedOrLostAttemptsDownNodesAndAlerts() {
        let now = Timestamp(milliseconds: 5)
        let attempt = AttemptRecord(id: AttemptID(9), task: TaskRef(job: JobID(3), index: 0), number: 1, node: NodeID(2), state: .timedOut,
                                    allocation: Resources(millicores: 1000, memoryBytes: 1, gpus: 0), startedAt: now)
        let alert = BudgetAlert(team: "ml", level: .soft, at: now, periodStartDay: 1, spentMicros: 8, budgetMicros: 10, message: "80 %")
        func event(_ subject: String, _ to: String) -> Mutation {
            .appendEvent(Event(subject: subject, job: nil, at: now, from: nil, to: to, reason: "", actor: "coordinator"))
        }
        let found = WebhookOccurrence.found(in: [
            event("job/3", "running"), .putAttempt(attempt), event("attempt/9", "timed_out"), event("job/3", "failed"),
            event("task/3/0", "failed"), event("node/n2", "down"), event("node/n2", "ready"), .appendAlert(alert), event("attempt/10", "lost"),
        ])
        #expect(found.map(\.type) == [.attemptFailed, .jobFailed, .nodeDown, .budgetAlert])
        guard case .attempt(let record) = found[0].subject else { Issue.record("not the attempt"); return }
        #expect(record == attempt)
        #expect(WebhookEventType.jobCancelled.isAsked(by: ["job.finished"]) && !WebhookEventType.attemptLost.isAsked(by: ["job.finished"]))
    }

    @Test func registrationsNameWhatIsWrong() {
        let unknown = #expect(throws: APIError.self) { try WebhookValidation.events(["job.faild"]) }
        #expect(unknown?.field == "events")
        #expect(unknown?.detail == "unknown event 'job.faild'; did you mean 'job.failed'?; events are " + WebhookEventType.names.joined(separator: ", "))
        #expect(throws: APIError.self) { try WebhookValidation.events([]) }
        #expect(throws: Never.self) { try WebhookValidation.events(["job.finished", "node.down"]) }
        for bad in ["ftp://example.com/x", "http://", "example.com/hook", "not a url"] {
            #expect(throws: APIError.self, "\(bad)") { try WebhookValidation.url(bad) }
        }
        #expect(throws: Never.self) { try WebhookValidation.url("https://hooks.example.com:8443/drover?x=1") }
    }

    // MARK: - The outbox

    @Test func aDeliveryIsQueuedWithTheChangeThatCausedItForMatchingHooksOnly() async throws {
        let shell = try await ClusterShellTests.Shell()
        let (hook, secret) = try await shell.cluster.addWebhook(url: "http://127.0.0.1:9/ok", events: ["job.finished"], team: "ml", secret: nil, by: "admin")
        #expect(secret?.hasPrefix("whsec_") == true)
        _ = try await shell.cluster.addWebhook(url: "http://127.0.0.1:9/web", events: ["job.finished"], team: "web", secret: nil, by: "admin")
        _ = try await shell.cluster.addWebhook(url: "http://127.0.0.1:9/nodes", events: ["node.down"], team: nil, secret: nil, by: "admin")
        let job = try await shell.submit("cancelled-one")
        try await shell.cluster.cancel(job.id, by: "admin")
        let deliveries = try await shell.store.deliveries(webhook: nil, limit: 10)
        #expect(deliveries.map(\.webhook) == [hook.id], "only the ml team's job.finished hook")
        let delivery = try #require(deliveries.first)
        #expect(delivery.type == "job.cancelled" && delivery.state == .pending && delivery.nextTry != nil && delivery.id.hasPrefix("msg_"))
        let body = try #require(try JSONSerialization.jsonObject(with: Data(delivery.payload.utf8)) as? [String: Any])
        #expect(body["type"] as? String == "job.cancelled")
        #expect(WireTime.parse(body["timestamp"] as? String ?? "") != nil)
        let data = try #require(body["data"] as? [String: Any])
        #expect(data["id"] as? String == job.id.description && data["state"] as? String == "cancelled" && data["team"] as? String == "ml")
        // The secret is kept sealed, never in clear.
        let stored = try await shell.store.load().webhooks
        #expect(stored.count == 3 && !stored.contains { $0.sealedSecret.contains(secret!) })
        #expect(stored.allSatisfy { $0.sealedSecret.hasPrefix(SecretSealer.prefix) })
    }

    @Test func aChangeWhoseCommitFailsQueuesNoDelivery() async throws {
        let shell = try await ClusterShellTests.Shell(withRecovery: false)
        _ = try await shell.cluster.addWebhook(url: "http://127.0.0.1:9/ok", events: ["job.cancelled"], team: nil, secret: nil, by: "admin")
        let job = try await shell.submit("doomed")
        shell.store.refuseWrites(true)
        await #expect(throws: StoreUnavailable.self) { try await shell.cluster.cancel(job.id, by: "admin") }
        shell.store.refuseWrites(false)
        #expect(try await shell.store.deliveries(webhook: nil, limit: 10).isEmpty)
        #expect(try await shell.store.events(of: job.id, limit: 10).events.map(\.to) == ["queued"], "neither the event nor its delivery")
    }
}
