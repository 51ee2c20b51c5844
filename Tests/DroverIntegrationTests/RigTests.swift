import DroverAPI
import DroverClient
import AsyncHTTPClient
import DroverTesting
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import Testing

/// Faults across hosts: the coordinator and each agent in a network namespace of their own
/// (`cluster/rig/rig`), with real partitions, lost answers, clock steps and disk faults.
/// Assertions read the coordinator's committed state, as the fault drills do.
@Suite(.serialized, .enabled(if: Rig.unavailableReason == nil, "\(Rig.unavailableReason ?? "")"))
struct RigTests {
    static func seconds(_ d: Duration) -> String { String(format: "%.2fs", Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18) }

    /// A task that writes its pid where the test can see it, then sleeps `sleep` seconds on its first attempt.
    static func pidTask(_ directory: String, firstSleep: Int) -> String {
        """
        echo $$ > \(directory)/pid-$DROVER_ATTEMPT
        if [ "$DROVER_ATTEMPT" = 1 ]; then sleep \(firstSleep); fi
        echo attempt $DROVER_ATTEMPT done
        """
    }

    @Test func partitionedAgentStopsItsTaskWithinTheGraceAndTheTaskRunsOnceElsewhere() async throws {
        let cluster = try await TestCluster.start(agents: 2, heartbeat: "300ms", leaseTTL: "3s", onRig: true)
        defer { cluster.stopNow() }
        let job = try await cluster.client.submit(.object([
            "name": .string("partitioned"), "team": .string("ml"), "command": .string(Self.pidTask(cluster.directory, firstSleep: 60)),
        ]))
        var first: AttemptView?
        try await cluster.waitUntil("first attempt running", timeout: .seconds(15)) {
            first = try await cluster.client.job(job.id).attempts?.first
            return first != nil && FileManager.default.fileExists(atPath: cluster.directory + "/pid-1")
        }
        let victim = try #require(first?.node)
        let pid = try #require(Int32(String(contentsOfFile: cluster.directory + "/pid-1", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        try cluster.rig!.partition(victim)
        let cutAt = ContinuousClock.now

        // The agent stops its task once the coordinator has been silent past the grace (the
        // TTL, 3 s), checked every heartbeat (300 ms); 12 s is only slack for a loaded machine.
        try await cluster.waitUntil("the partitioned agent stopped its task", timeout: .seconds(3 + 12)) { processIsGone(pid) }
        let stoppedAfter = ContinuousClock.now - cutAt
        var second: AttemptView?
        try await cluster.waitUntil("the task running again on the other agent", timeout: .seconds(20)) {
            second = try await cluster.client.job(job.id).attempts?.dropFirst().first
            return second != nil
        }
        let releasedAfter = ContinuousClock.now - cutAt
        #expect(second?.node != victim)
        print("rig partition: task stopped on the cut agent after \(Self.seconds(stoppedAfter)), running again elsewhere after "
              + "\(Self.seconds(releasedAfter)); may have run twice for \(Self.seconds(max(.zero, stoppedAfter - releasedAfter))) (TTL 3s, heartbeat 300ms)")

        try cluster.rig!.heal()
        let wait = try await cluster.drover(["wait", job.id])
        #expect(wait.status == 0, "\(wait.stdout)")
        // The cut agent comes back, and its late report of the first attempt changes nothing.
        try await cluster.waitUntil("the cut agent ready again", timeout: .seconds(30)) {
            try await cluster.client.nodes().first { $0.name == victim }?.state == .ready
        }
        let final = try await cluster.client.job(job.id)
        #expect(final.attempts?.map(\.outcome) == [.lost, .succeeded], "\(cluster.diagnostics())")
        #expect(final.tasks.succeeded == 1)
    }

    @Test func coordinatorClockStepsNeitherDownANodeNorBillTheStep() async throws {
        let cluster = try await TestCluster.start(agents: 1, heartbeat: "300ms", leaseTTL: "3s",
                                                  agentArguments: ["--price-cpu-hour", "3600"], onRig: true)
        defer { cluster.stopNow() }
        let job = try await cluster.client.submit(.object([
            "name": .string("stepped"), "team": .string("ml"), "command": .string("sleep 4"),
            "resources": .object(["cpu": .number(1), "memory": .string("16MiB")]),
        ]))
        try await cluster.waitUntil("attempt running", timeout: .seconds(15)) { try await cluster.client.job(job.id).attempts?.first != nil }
        try await Task.sleep(for: .seconds(1))
        try cluster.rig!.clock("coordinator", offset: "+10m")
        try await Task.sleep(for: .seconds(1.5))
        try cluster.rig!.clock("coordinator", offset: "-10m")
        let wait = try await cluster.drover(["wait", job.id])
        #expect(wait.status == 0, "\(wait.stdout)")
        let final = try await cluster.client.job(job.id)
        #expect(final.attempts?.map(\.outcome) == [.succeeded], "one attempt, never declared lost: \(cluster.diagnostics())")
        // One CPU at 1 per CPU-second for a 4 s task; a step of 10 minutes billed would be 600.
        print("rig clock: a 4 s task across coordinator clock steps of +10m and -20m cost \(final.cost)")
        #expect(final.cost > 3 && final.cost < 30, "cost \(final.cost) for ~4 s of one CPU at 1/s")
        #expect(try await cluster.client.nodes().map(\.state) == [.ready])
    }

    @Test func agentClockOffsetsDoNotStallHeartbeats() async throws {
        let cluster = try await TestCluster.start(agents: 1, heartbeat: "300ms", leaseTTL: "3s", onRig: true)
        defer { cluster.stopNow() }
        let job = try await cluster.client.submit(.object(["name": .string("offset"), "team": .string("ml"), "command": .string("sleep 6")]))
        try await cluster.waitUntil("attempt running", timeout: .seconds(15)) { try await cluster.client.job(job.id).attempts?.first != nil }
        // Each offset held for longer than the TTL: a node whose heartbeats stalled for it would be declared down.
        for offset in ["-10", "-10m", "+1d", "0"] {
            try cluster.rig!.clock("agent-1", offset: offset)
            try await Task.sleep(for: .seconds(1.5))
        }
        let wait = try await cluster.drover(["wait", job.id])
        #expect(wait.status == 0, "\(wait.stdout)")
        let final = try await cluster.client.job(job.id)
        #expect(final.attempts?.map(\.outcome) == [.succeeded], "one attempt, never declared lost: \(cluster.diagnostics())")
        #expect(try await cluster.client.nodes().map(\.state) == [.ready])
    }

    @Test func aSubmitWhoseAnswerIsLostIsRetriedIntoExactlyOneJob() async throws {
        // Plain HTTP: the rule that loses answers tells them by size, and so would lose a TLS handshake's.
        let cluster = try await TestCluster.start(agents: 1, coordinatorArguments: ["--insecure-http"], onRig: true, extraHosts: ["client"])
        defer { cluster.stopNow() }
        try cluster.rig!.loseAnswers(to: "client", from: "coordinator", port: 7070)
        let submitted = Task {
            try await cluster.drover(["submit", "--name", "exactly-once", "--team", "ml", "--", "true"], timeout: .seconds(90), host: "client")
        }
        // The request arrives and is committed; its answer never comes back.
        try await cluster.waitUntil("the job created", timeout: .seconds(20)) {
            try await !cluster.client.jobs().filter { $0.name == "exactly-once" }.isEmpty
        }
        let heldAt = ContinuousClock.now
        try cluster.rig!.heal("client")
        let result = try await submitted.value
        print("rig idempotency: the CLI's retry got the first job \(Self.seconds(ContinuousClock.now - heldAt)) after the answer was lost")
        #expect(result.status == 0, "\(result.stdout)")
        let jobs = try await cluster.client.jobs().filter { $0.name == "exactly-once" }
        #expect(jobs.count == 1, "exactly one job for one submit")
        #expect(jobs.map(\.id) == [result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)], "the CLI printed the first job's id")
    }

    @Test func aFrozenDataDiskDeclaresNoLeaseLost() async throws {
        let cluster = try await TestCluster.start(agents: 1, heartbeat: "300ms", leaseTTL: "3s", onRig: true, dataDisk: "64M")
        defer { cluster.stopNow() }
        try cluster.rig!.freeze("coordinator")
        let submitted = Task { try await cluster.drover(["submit", "--name", "frozen", "--team", "ml", "--", "echo", "ran"], timeout: .seconds(90)) }
        // Longer than two TTLs: the job is leased in memory while its write waits on the disk.
        try await Task.sleep(for: .seconds(8))
        try cluster.rig!.thaw("coordinator")
        let result = try await submitted.value
        #expect(result.status == 0, "\(result.stdout)")
        let id = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let wait = try await cluster.drover(["wait", id])
        #expect(wait.status == 0, "\(wait.stdout)")
        let final = try await cluster.client.job(id)
        #expect(final.attempts?.map(\.outcome) == [.succeeded], "no attempt declared lost over the coordinator's own stall: \(cluster.diagnostics())")
        #expect(try await cluster.client.nodes().map(\.state) == [.ready])
    }

    @Test func aFullDataDiskAnswers503AndRecoversWithoutRestart() async throws {
        let cluster = try await TestCluster.start(agents: 1, onRig: true, dataDisk: "32M")
        defer { cluster.stopNow() }
        let pid = try #require(cluster.coordinatorPID)
        // Acknowledged before the disk fills, running through the outage.
        let before = try await cluster.client.submit(.object(["name": .string("before"), "team": .string("ml"), "command": .string("sleep 2")]))
        try cluster.rig!.fill("coordinator")
        var acknowledged: [String] = []
        var refusal: (status: UInt, retryAfter: String?, body: String)?
        // The database may still have room in pages it already holds: submit until a write needs more.
        for index in 0..<400 where refusal == nil {
            let spec = #"{"name":"full-\#(index)","team":"ml","command":"true","env":{"PAD":"\#(String(repeating: "x", count: 4000))"}}"#
            let answer = try await Self.request(cluster, .POST, "/v1/jobs", body: spec)
            if answer.status == 201 {
                acknowledged.append(try JSONDecoder().decode(JobView.self, from: Data(answer.body.utf8)).id)
            } else {
                refusal = answer
            }
        }
        let refused = try #require(refusal, "a full disk refused a write")
        print("rig disk full: \(acknowledged.count) submits acknowledged, then \(refused.status) (Retry-After: \(refused.retryAfter ?? "none")): \(refused.body)")
        #expect(refused.status == 503 && refused.retryAfter != nil, "503 with Retry-After")
        #expect(refused.body.contains("nothing was changed"))
        #expect(!processIsGone(pid), "the coordinator is still running")
        let read = try await Self.request(cluster, .GET, "/v1/nodes", body: nil)
        #expect(read.status == 200 || (read.status == 503 && read.retryAfter != nil), "a read is answered, or refused with Retry-After: \(read)")
        try cluster.rig!.unfill("coordinator")
        var after: JobView?
        try await cluster.waitUntil("a submit accepted once space is back", timeout: .seconds(60), every: .milliseconds(500)) {
            after = try? await cluster.client.submit(.object(["name": .string("after"), "team": .string("ml"), "command": .string("true")]))
            return after != nil
        }
        #expect(cluster.coordinatorPID == pid && !processIsGone(pid), "recovered without a restart")
        for id in [before.id] + acknowledged + [after!.id] {
            let wait = try await cluster.drover(["wait", id])
            #expect(wait.status == 0, "acknowledged job \(id): \(wait.stdout)")
        }
    }

    /// One request with the admin token, trusting the coordinator's generated CA; the status,
    /// `Retry-After` and body as they came.
    static func request(_ cluster: TestCluster, _ method: HTTPMethod, _ path: String, body: String?) async throws
        -> (status: UInt, retryAfter: String?, body: String) {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.additionalTrustRoots = [.file(cluster.dataDirectory + "/tls/ca.pem")]
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(tlsConfiguration: tls))
        defer { _ = http.shutdown() }
        var request = HTTPClientRequest(url: cluster.url + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(cluster.adminToken)")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await http.execute(request, timeout: .seconds(30))
        let data = try await response.body.collect(upTo: 1 << 20)
        return (response.status.code, response.headers.first(name: "Retry-After"), String(buffer: data))
    }

    @Test func aReadOnlyDataDirectoryIsRefusedAtStart() async throws {
        let cluster = try await TestCluster.start(agents: 0, onRig: true, dataDisk: "16M")
        defer { cluster.stopNow() }
        await cluster.signalCoordinator(SIGTERM)
        try cluster.rig!.readOnly("coordinator", true)
        let log = cluster.directory + "/readonly.log"
        let started = ContinuousClock.now
        let process = try cluster.spawn(["coordinator", "--listen", "\(cluster.coordinatorHost):7070", "--data", cluster.dataDirectory,
                                         "--admin-token", cluster.adminToken, "--join-token", cluster.joinToken], log: log, host: "coordinator")
        let exit = await process.wait()
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        print("rig read-only data dir: refused after \(Self.seconds(ContinuousClock.now - started)): \(output.split(separator: "\n").last ?? "")")
        #expect(exit.exitCode != 0)
        #expect(output.contains(cluster.dataDirectory) && output.contains("not writable"), "the message names the directory: \(output)")
    }
}
