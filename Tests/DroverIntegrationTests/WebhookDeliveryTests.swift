import DroverAPI
import DroverClient
import DroverTesting
import Foundation
import Testing

/// A receiver for the tests: Tests/Fixtures/webhook_receiver.py, which checks each signature
/// with python3's own hmac and logs every request it gets.
final class WebhookReceiver: @unchecked Sendable {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/webhook_receiver.py").path

    let directory: String
    private var process: Process?
    /// The port it listens on (kept across restarts).
    private(set) var port = 0

    init(in parent: String) throws {
        directory = parent + "/receiver-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit { stop() }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// Starts listening (on the port of the last start, if there was one).
    func start() async throws {
        try? FileManager.default.removeItem(atPath: directory + "/port")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script, directory, String(port)]
        try process.run()
        self.process = process
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOfFile: directory + "/port", encoding: .utf8), let bound = Int(text) {
                port = bound
                return
            }
            guard process.isRunning else { throw TestClusterError("the webhook receiver exited at start") }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestClusterError("the webhook receiver did not start within 60 s")
    }

    /// Takes it down at once (SIGKILL): the port refuses connections until the next start.
    func stop() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func useSecret(_ secret: String) throws {
        try secret.write(toFile: directory + "/secret", atomically: true, encoding: .utf8)
    }

    struct Request {
        var path: String, id: String, timestamp: Int64, verified: Bool
        var body: [String: Any]
    }

    var requests: [Request] {
        let text = (try? String(contentsOfFile: directory + "/requests.jsonl", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let entry = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            let body = (entry["body"] as? String).flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] } ?? [:]
            return Request(path: entry["path"] as? String ?? "", id: entry["id"] as? String ?? "", timestamp: Int64(entry["timestamp"] as? String ?? "") ?? 0,
                           verified: entry["verified"] as? Bool ?? false, body: body)
        }
    }
}

/// Webhooks end to end: a real coordinator and agent, a real receiver verifying signatures,
/// a receiver down for a while, a coordinator killed before delivery, a receiver that hangs.
@Suite(.serialized) struct WebhookDeliveryTests {
    static let secret = "whsec_" + Data((0..<32).map { UInt8($0) }).base64EncodedString()

    func submit(_ cluster: TestCluster, _ name: String, command: String) async throws -> String {
        try await cluster.client.submit(.object(["name": .string(name), "team": .string("ml"), "maxAttempts": .number(1), "command": .string(command)])).id
    }

    @Test func succeededAndFailedJobsAreDeliveredSignedAndTheLogShowsTheTry() async throws {
        let cluster = try await TestCluster.start(agents: 1)
        defer { cluster.stopNow() }
        let receiver = try WebhookReceiver(in: cluster.directory)
        try await receiver.start()
        // `webhook add` prints the id, then the secret it made.
        let added = try await cluster.drover(["webhook", "add", receiver.url("/ok"), "--events", "job.succeeded,job.failed", "--team", "ml"])
        #expect(added.status == 0, "\(added.stdout)")
        let lines = added.stdout.split(separator: "\n").map(String.init)
        let hook = try #require(lines.first)
        #expect(hook.hasPrefix("wh-") && lines.count == 2 && lines[1].hasPrefix("whsec_"), "\(added.stdout)")
        try receiver.useSecret(lines[1])
        let good = try await submit(cluster, "good", command: "true")
        let bad = try await submit(cluster, "bad", command: "exit 3")
        try await cluster.waitUntil("both deliveries received", timeout: .seconds(120)) { receiver.requests.count >= 2 }
        let requests = receiver.requests
        #expect(requests.count == 2)
        #expect(requests.allSatisfy { $0.verified }, "a signature did not verify with python's hmac")
        let byJob = Dictionary(uniqueKeysWithValues: requests.map { (($0.body["data"] as? [String: Any])?["id"] as? String ?? "", $0) })
        #expect(byJob[good]?.body["type"] as? String == "job.succeeded")
        #expect(byJob[bad]?.body["type"] as? String == "job.failed")
        #expect((byJob[bad]?.body["data"] as? [String: Any])?["state"] as? String == "failed")
        #expect(requests.allSatisfy { abs($0.timestamp - Int64(Date().timeIntervalSince1970)) < 600 })
        // The delivery log: each delivered after one try answered 200, with its id the webhook-id.
        try await cluster.waitUntil("both recorded delivered", timeout: .seconds(60)) {
            try await cluster.client.deliveries(webhook: hook).filter { $0.state == "delivered" }.count == 2
        }
        let log = try await cluster.client.deliveries(webhook: hook)
        #expect(Set(log.map(\.id)) == Set(requests.map(\.id)))
        #expect(log.allSatisfy { $0.tries == 1 && $0.log.count == 1 && $0.log[0].status == 200 })
        let listed = try await cluster.drover(["webhook", "deliveries", hook])
        #expect(listed.status == 0 && listed.stdout.contains("delivered") && listed.stdout.contains(log[0].id), "\(listed.stdout)")
        // Redelivered on request: the same webhook-id again, signed again.
        let again = try await cluster.drover(["webhook", "redeliver", log[0].id])
        #expect(again.status == 0 && again.stdout.contains("pending"), "\(again.stdout)")
        try await cluster.waitUntil("the redelivery is received", timeout: .seconds(120)) { receiver.requests.count >= 3 }
        #expect(receiver.requests[2].id == log[0].id && receiver.requests[2].verified)
        let unknown = try await cluster.drover(["webhook", "redeliver", "msg_nope"])
        #expect(unknown.status == 66 && unknown.stdout.contains("does not exist"), "\(unknown.stdout)")
        // Listed until removed.
        #expect(try await cluster.drover(["webhook", "list"]).stdout.contains(hook))
        #expect(try await cluster.drover(["webhook", "remove", hook]).status == 0)
        #expect(!(try await cluster.drover(["webhook", "list"]).stdout.contains(hook)))
    }

    @Test func aReceiverThatIsDownIsRetriedUntilItIsUpAndEveryTryIsLogged() async throws {
        let cluster = try await TestCluster.start(agents: 1)
        defer { cluster.stopNow() }
        let receiver = try WebhookReceiver(in: cluster.directory)
        try receiver.useSecret(Self.secret)
        try await receiver.start()
        receiver.stop() // down: its port refuses connections
        let hook = try await cluster.client.addWebhook(WebhookCreateRequest(url: receiver.url("/ok"), events: ["job.finished"], secret: Self.secret)).webhook.id
        let job = try await submit(cluster, "while-down", command: "true")
        try await cluster.waitUntil("a failed try is logged", timeout: .seconds(120)) {
            try await cluster.client.deliveries(webhook: hook).first.map { $0.tries >= 1 && $0.state == "pending" } ?? false
        }
        let failed = try #require(try await cluster.client.deliveries(webhook: hook).first)
        #expect(failed.log[0].status == nil && failed.log[0].error != nil && failed.lastError != nil, "\(failed)")
        #expect(failed.nextTry != nil)
        try await receiver.start()
        try await cluster.waitUntil("delivered once the receiver is up", timeout: .seconds(120)) {
            try await cluster.client.deliveries(webhook: hook).first?.state == "delivered"
        }
        let delivered = try #require(try await cluster.client.deliveries(webhook: hook).first)
        #expect(delivered.id == failed.id && delivered.tries >= 2 && delivered.log.count == delivered.tries)
        #expect(delivered.log.last?.status == 200 && delivered.log.dropLast().allSatisfy { $0.status == nil && $0.error != nil })
        let got = try #require(receiver.requests.first)
        #expect(got.id == failed.id && got.verified && ((got.body["data"] as? [String: Any])?["id"] as? String) == job)
    }

    @Test func aDeliveryCommittedBeforeAKill9IsDeliveredAfterTheRestartWithTheSameWebhookID() async throws {
        let cluster = try await TestCluster.start(agents: 1)
        defer { cluster.stopNow() }
        let receiver = try WebhookReceiver(in: cluster.directory)
        try receiver.useSecret(Self.secret)
        try await receiver.start()
        receiver.stop() // refusing at the moment of the event
        let hook = try await cluster.client.addWebhook(WebhookCreateRequest(url: receiver.url("/ok"), events: ["job.succeeded"], secret: Self.secret)).webhook.id
        let job = try await submit(cluster, "before-kill", command: "true")
        try await cluster.waitUntil("the delivery is queued", timeout: .seconds(120)) {
            !(try await cluster.client.deliveries(webhook: hook).isEmpty)
        }
        let queued = try #require(try await cluster.client.deliveries(webhook: hook).first)
        #expect(queued.state == "pending")
        await cluster.signalCoordinator(SIGKILL)
        try await receiver.start()
        try await cluster.startCoordinator()
        try await cluster.waitUntil("delivered after the restart", timeout: .seconds(120)) { !receiver.requests.isEmpty }
        let got = try #require(receiver.requests.first)
        #expect(got.id == queued.id, "the webhook-id changed across the restart")
        #expect(got.verified && ((got.body["data"] as? [String: Any])?["id"] as? String) == job)
        try await cluster.waitUntil("recorded delivered", timeout: .seconds(60)) {
            try await cluster.client.deliveries(webhook: hook).first?.state == "delivered"
        }
    }

    @Test func aHangingReceiverIsCutOffAndAConcurrentJobRunsMeanwhile() async throws {
        // A long cut-off, so that the concurrent job has ample time to finish while the try hangs.
        let cluster = try await TestCluster.start(agents: 1, coordinatorArguments: ["--webhook-timeout", "30s"])
        defer { cluster.stopNow() }
        let receiver = try WebhookReceiver(in: cluster.directory)
        try receiver.useSecret(Self.secret)
        try await receiver.start()
        let hook = try await cluster.client.addWebhook(WebhookCreateRequest(url: receiver.url("/hang"), events: ["job.succeeded"], secret: Self.secret)).webhook.id
        _ = try await submit(cluster, "first", command: "true")
        try await cluster.waitUntil("the receiver holds the first try", timeout: .seconds(120)) { !receiver.requests.isEmpty }
        // While that try hangs, another job is leased, runs and succeeds.
        let second = try await submit(cluster, "second", command: "true")
        let waited = try await cluster.drover(["wait", second])
        #expect(waited.status == 0, "\(waited.stdout)")
        // (the first job's try was still hanging: none of it is recorded yet)
        let firstDelivery = try #require(try await cluster.client.deliveries(webhook: hook).last)
        #expect(firstDelivery.tries == 0 && firstDelivery.state == "pending", "\(firstDelivery)")
        // The hanging try is cut off and logged as such, then retried.
        try await cluster.waitUntil("the hanging try is cut off", timeout: .seconds(120)) {
            try await cluster.client.deliveries(webhook: hook).contains { $0.log.first?.error?.contains("cut off") == true }
        }
        let cut = try #require(try await cluster.client.deliveries(webhook: hook).first { $0.log.first?.error?.contains("cut off") == true })
        #expect(cut.log[0].status == nil && cut.log[0].durationMs >= 29_000 && cut.state == "pending", "\(cut)")
    }

    @Test func followingTheEventStreamWithTheCLIPrintsARunningJobsEvents() async throws {
        let cluster = try await TestCluster.start(agents: 1)
        defer { cluster.stopNow() }
        let job = try await submit(cluster, "followed", command: "sleep 1")
        let (follower, output) = try cluster.startDrover(["events", "--job", job, "--follow", "--output", "json"])
        defer { _ = kill(follower.pid, SIGKILL) }
        func printed() -> [[String: Any]] {
            ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }
        try await cluster.waitUntil("the job's end is printed", timeout: .seconds(120)) {
            printed().contains { $0["type"] as? String == "job.succeeded" }
        }
        let types = printed().compactMap { $0["type"] as? String }
        #expect(types.first == "job.queued" && types.contains("job.running") && types.contains("attempt.succeeded"), "\(types)")
        let ids = printed().compactMap { $0["id"] as? Int }
        #expect(ids == ids.sorted() && Set(ids).count == ids.count, "ids in order, none twice")
        #expect(printed().allSatisfy { (($0["data"] as? [String: Any])?["job"] as? String) == job })
        // A team token's stream holds only its team's events.
        let token = try await cluster.client.createToken(team: "web", role: .reader).token
        let other = try await cluster.drover(["events", "--job", job], token: token)
        #expect(other.status != 0 && other.stdout.contains("does not exist"), "\(other.stdout)")
    }
}
