import DroverAPI
import DroverClient
import DroverTesting
import Foundation
import Testing

/// Fault drills: real processes killed, frozen and restarted; every assertion reads the
/// coordinator's committed state (job show / attempts), never the logs.
@Suite(.serialized)
struct FaultDrillTests {
    static func seconds(_ d: Duration) -> String { String(format: "%.2fs", Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18) }

    @Test func drill1AgentKilledMidTaskRunsElsewhere() async throws {
        let cluster = try await TestCluster.start(agents: 2, leaseTTL: "2s")
        defer { cluster.stopNow() }
        let job = try await cluster.client.submit(.object([
            "name": .string("survivor"), "team": .string("ml"),
            "command": .string("if [ \"$DROVER_ATTEMPT\" = 1 ]; then sleep 3; fi; echo attempt $DROVER_ATTEMPT"),
        ]))
        var first: AttemptView?
        try await cluster.waitUntil("first attempt running", timeout: .seconds(10)) {
            first = try await cluster.client.job(job.id).attempts?.first
            return first != nil
        }
        let victim = try #require(first?.node)
        await cluster.signalAgent(victim, SIGKILL)
        let killedAt = ContinuousClock.now
        var second: AttemptView?
        try await cluster.waitUntil("task running again elsewhere", timeout: .seconds(2 + 5)) {
            second = try await cluster.client.job(job.id).attempts?.dropFirst().first
            return second != nil
        }
        let recovery = ContinuousClock.now - killedAt
        print("drill 1: task running again on \(second!.node) \(Self.seconds(recovery)) after kill -9 of \(victim) (TTL 2s)")
        #expect(second?.node != victim)
        let wait = try await cluster.drover(["wait", job.id])
        #expect(wait.status == 0)
        let final = try await cluster.client.job(job.id)
        #expect(final.attempts?.map(\.outcome) == [.lost, .succeeded])
    }

    @Test func drill2CoordinatorKilledDuring500ShardJob() async throws {
        let cluster = try await TestCluster.start(agents: 2, cpu: 8)
        defer { cluster.stopNow() }
        let job = try await cluster.client.submit(.object([
            "name": .string("many"), "team": .string("ml"), "kind": .string("batch"), "tasks": .number(500), "command": .array([.string("true")]),
            "resources": .object(["cpu": .number(1), "memory": .string("16MiB")]),
        ]))
        try await cluster.waitUntil("50 shards done", timeout: .seconds(30), every: .milliseconds(10)) {
            try await cluster.client.jobSummary(job.id).tasks.succeeded >= 50
        }
        await cluster.signalCoordinator(SIGKILL)
        let killedAt = ContinuousClock.now
        try await cluster.startCoordinator()
        let wait = try await cluster.drover(["wait", job.id])
        print("drill 2: 500-shard job finished \(Self.seconds(ContinuousClock.now - killedAt)) after kill -9 and restart of the coordinator")
        #expect(wait.status == 0, "\(cluster.diagnostics())")
        let final = try await cluster.client.job(job.id)
        let succeeded = (final.attempts ?? []).filter { $0.outcome == .succeeded }
        #expect(succeeded.count == 500, "one succeeded attempt per shard")
        #expect(Set(succeeded.map(\.task)) == Set(0..<500), "no shard missing")
        #expect(final.tasks.succeeded == 500)
    }

    @Test func drill3FrozenAgentsLateReportIsRefusedAndItsOrphanKilled() async throws {
        let cluster = try await TestCluster.start(agents: 1, leaseTTL: "2s")
        defer { cluster.stopNow() }
        let pids = try cluster.sharedDirectory("pids")
        // Shard 0's first attempt ends once its agent is frozen (the test says so in `frozen`),
        // so its report is late; shard 1's first attempt would run for a minute (an orphan its
        // agent must kill).
        let job = try await cluster.client.submit(.object([
            "name": .string("frozen"), "team": .string("ml"), "kind": .string("batch"), "tasks": .number(2),
            "command": .string("""
                if [ "$DROVER_ATTEMPT" = 1 ]; then
                  echo $$ > \(pids)/shard-$DROVER_TASK_INDEX
                  if [ "$DROVER_TASK_INDEX" = 0 ]; then
                    n=0; while [ ! -e \(pids)/frozen ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done; sleep 0.5
                  else sleep 60; fi
                fi
                echo attempt $DROVER_ATTEMPT
                """),
        ]))
        try await cluster.waitUntil("both shards running on agent-1", timeout: .seconds(10)) {
            FileManager.default.fileExists(atPath: pids + "/shard-0") && FileManager.default.fileExists(atPath: pids + "/shard-1")
        }
        try await Task.sleep(for: .milliseconds(100))
        let orphan = try #require(Int32(try String(contentsOfFile: pids + "/shard-1", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        try cluster.startAgent(name: "agent-2", arguments: ["--cpu", "4", "--memory", "8GiB", "--gpu", "0"])
        await cluster.signalAgent("agent-1", SIGSTOP)
        FileManager.default.createFile(atPath: pids + "/frozen", contents: nil)
        try await cluster.waitUntil("both shards done on agent-2", timeout: .seconds(15)) {
            try await cluster.client.jobSummary(job.id).tasks.succeeded == 2
        }
        await cluster.signalAgent("agent-1", SIGCONT)
        let resumedAt = ContinuousClock.now
        try await cluster.waitUntil("orphan killed by its own agent", timeout: .seconds(5)) { processIsGone(orphan) }
        print("drill 3: agent-1's orphan killed \(Self.seconds(ContinuousClock.now - resumedAt)) after SIGCONT")
        try await cluster.waitUntil("late report refused", timeout: .seconds(5)) {
            try await cluster.client.job(job.id, events: 1000).events?.contains { $0.reason.contains("refused stale report") } ?? false
        }
        let final = try await cluster.client.job(job.id, events: 1000)
        let attempts = final.attempts ?? []
        #expect(attempts.filter { $0.outcome == .succeeded }.count == 2, "exactly one result per task")
        #expect(attempts.filter { $0.node == "agent-1" }.allSatisfy { $0.outcome == .lost })
        #expect(final.state == .succeeded)
    }

    @Test func aReportTakesTheNextLeasesInTheSameCommit() async throws {
        let cluster = try await TestCluster.start(agents: 0)
        defer { cluster.stopNow() }
        let agent = try await cluster.handDrivenAgent(cpu: 2)
        let job = try await cluster.client.submit(.object([
            "name": .string("chain"), "team": .string("ml"), "kind": .string("batch"), "tasks": .number(5), "command": .string("true"),
        ])).id
        func report(_ lease: LeaseView) -> ReportView {
            ReportView(attemptId: lease.attemptId, outcome: .succeeded, exitCode: 0, signal: nil, wallMs: 1, peakRssBytes: nil, progress: nil, reason: nil)
        }
        // A 2-core node: the poll gets two leases; each report of them takes the freed core's next task.
        var leases = try await agent.poll(PollRequest(maxLeases: 8, waitMs: 2000)).leases
        #expect(leases.count == 2)
        var seen = Set(leases.map(\.task))
        for _ in 0..<3 {
            let answer = try await agent.report(ReportBatch(reports: [report(leases.removeFirst())], maxLeases: 8))
            #expect(answer.results.map(\.status) == [.accepted])
            let next = try #require(answer.leases)
            #expect(next.count == 1, "only the freed core is leased")
            seen.formUnion(next.map(\.task))
            leases += next
        }
        #expect(seen == Set(0..<5) && leases.count == 2)
        // Without maxLeases a report leases nothing (and says nothing about leases).
        let plain = try await agent.report(ReportBatch(reports: [report(leases[0])]))
        #expect(plain.leases == nil)
        // A negative maxLeases is refused and changes nothing.
        await #expect(throws: DroverClientError.self) {
            _ = try await agent.report(ReportBatch(reports: [report(leases[1])], maxLeases: -1))
        }
        #expect(try await cluster.client.jobSummary(job).tasks.running == 1)
        let last = try await agent.report(ReportBatch(reports: [report(leases[1])], maxLeases: 8))
        #expect(last.leases == [], "nothing is left to lease")
        #expect(try await cluster.client.jobSummary(job).state == .succeeded)
    }

    @Test func drill4SameReport100TimesOutOfOrderCommitsOnce() async throws {
        let cluster = try await TestCluster.start(agents: 0)
        defer { cluster.stopNow() }
        // A hand-driven agent, so the test controls every report.
        let agent = try await cluster.handDrivenAgent(cpu: 8)
        let job = try await cluster.client.submit(.object([
            "name": .string("dup"), "team": .string("ml"), "kind": .string("batch"), "tasks": .number(3), "command": .string("true"),
        ]))
        let leases = try await agent.poll(PollRequest(maxLeases: 3, waitMs: 2000)).leases
        #expect(leases.count == 3)
        let reports = leases.map { ReportView(attemptId: $0.attemptId, outcome: .succeeded, exitCode: 0, signal: nil, wallMs: 5, peakRssBytes: 1024, progress: nil, reason: nil) }
        let copies = (0..<100).flatMap { _ in reports }.shuffled()
        let verdicts = try await withThrowingTaskGroup(of: [ReportResultView].self) { group in
            for chunk in stride(from: 0, to: copies.count, by: 25) {
                let slice = Array(copies[chunk..<min(copies.count, chunk + 25)])
                group.addTask { try await agent.report(ReportBatch(reports: slice.shuffled())).results }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(verdicts.count == 300)
        #expect(verdicts.filter { $0.status == .accepted }.count == 3, "one commit per attempt")
        #expect(verdicts.filter { $0.status == .duplicate }.count == 297)
        // A contradicting late report is stale: 409, and it changes nothing.
        await #expect(throws: DroverClientError.self) {
            _ = try await agent.reportOne(ReportView(attemptId: leases[0].attemptId, outcome: .failed, exitCode: 1, signal: nil, wallMs: 5,
                                                     peakRssBytes: nil, progress: nil, reason: nil))
        }
        do {
            _ = try await agent.reportOne(ReportView(attemptId: leases[0].attemptId, outcome: .failed, exitCode: 1, signal: nil, wallMs: 5,
                                                     peakRssBytes: nil, progress: nil, reason: nil))
        } catch let error as DroverClientError { #expect(error.status == 409) }
        let final = try await cluster.client.job(job.id, events: 1000)
        #expect(final.state == .succeeded)
        #expect(final.attempts?.map(\.outcome) == [.succeeded, .succeeded, .succeeded])
        #expect(final.events?.filter { $0.subject.hasPrefix("task/") && $0.to == "succeeded" }.count == 3)
    }

    @Test func drill5RetryPolicyIsFollowed() async throws {
        let cluster = try await TestCluster.start(agents: 1)
        defer { cluster.stopNow() }
        let fatal = try await cluster.client.submit(.object([
            "name": .string("fatal"), "team": .string("ml"), "command": .string("exit 3"), "maxAttempts": .number(5),
            "nonRetryableExitCodes": .array([.number(3)]),
        ]))
        let retried = try await cluster.client.submit(.object([
            "name": .string("flaky"), "team": .string("ml"), "command": .string("exit 1"), "maxAttempts": .number(3),
            "backoff": .object(["initial": .string("300ms"), "multiplier": .number(2), "jitter": .number(0.1)]),
            "circuitBreaker": .bool(false),
        ]))
        #expect(try await cluster.drover(["wait", fatal.id]).status != 0)
        #expect(try await cluster.drover(["wait", retried.id]).status != 0)
        let fatalAttempts = try await cluster.client.job(fatal.id).attempts ?? []
        #expect(fatalAttempts.count == 1, "a non-retryable exit code gets exactly one attempt")
        let attempts = try await cluster.client.job(retried.id).attempts ?? []
        #expect(attempts.count == 3)
        // Gaps between one attempt's end and the next one's start follow the backoff (300ms, 600ms ±10%),
        // plus at most the time a poll takes to be woken.
        for (index, expected) in [(1, 300.0), (2, 600.0)] where attempts.count == 3 {
            let gap = Double(WireTime.parse(attempts[index].startedAt)! - WireTime.parse(attempts[index - 1].endedAt!)!)
            print("drill 5: retry \(index) started \(gap)ms after the failure (policy \(expected)ms ±10%)")
            #expect(gap >= expected * 0.9 - 1 && gap <= expected * 1.1 + 250, "retry \(index): \(gap)ms")
        }
    }

    @Test func drill6TimeoutKillsTheWholeTree() async throws {
        let cluster = try await TestCluster.start(agents: 1)
        defer { cluster.stopNow() }
        let pids = try cluster.sharedDirectory("pids")
        let job = try await cluster.client.submit(.object([
            "name": .string("slow"), "team": .string("ml"), "timeout": .string("1s"), "maxAttempts": .number(1),
            "command": .string("echo $$ > \(pids)/leader; (trap '' TERM; sleep 300) & echo $! > \(pids)/child; wait"),
        ]))
        try await cluster.waitUntil("started", timeout: .seconds(10)) { FileManager.default.fileExists(atPath: pids + "/child") }
        try await Task.sleep(for: .milliseconds(50))
        let leader = try #require(Int32(try String(contentsOfFile: pids + "/leader", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        let child = try #require(Int32(try String(contentsOfFile: pids + "/child", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        // timeout 1s + kill-grace 1s + 1s.
        try await cluster.waitUntil("process tree gone", timeout: .seconds(3)) { processIsGone(leader) && processIsGone(child) }
        #expect(try await cluster.drover(["wait", job.id]).status != 0)
        let final = try await cluster.client.job(job.id)
        #expect(final.attempts?.first?.outcome == .timedOut)
        #expect(final.state == .failed)
    }

    @Test func agentKilledAndRestartedKillsTheTaskItLeftRunning() async throws {
        // A task runs in a session of its own and outlives its agent's kill -9; restarted on
        // the same work directory, the agent kills it before the task runs anywhere else.
        let cluster = try await TestCluster.start(agents: 1, leaseTTL: "2s")
        defer { cluster.stopNow() }
        let job = try await cluster.client.submit(.object([
            "name": .string("orphan"), "team": .string("ml"),
            "command": .string("echo $$ > \(cluster.directory)/pid-$DROVER_ATTEMPT; if [ \"$DROVER_ATTEMPT\" = 1 ]; then sleep 120; fi"),
        ]))
        let pidFile = cluster.directory + "/pid-1"
        try await cluster.waitUntil("first attempt running", timeout: .seconds(10)) { FileManager.default.fileExists(atPath: pidFile) }
        let pid = try #require(Int32(String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        await cluster.signalAgent("agent-1", SIGKILL)
        #expect(!processIsGone(pid), "the task outlives its agent")
        try cluster.startAgent(name: "agent-1", arguments: ["--cpu", "4", "--memory", "8GiB", "--gpu", "0"])
        try await cluster.waitUntil("the leftover task killed", timeout: .seconds(20)) { processIsGone(pid) }
        let wait = try await cluster.drover(["wait", job.id])
        #expect(wait.status == 0, "\(cluster.diagnostics())")
        let final = try await cluster.client.job(job.id)
        let shown = try await cluster.drover(["job", "show", job.id]).stdout
        #expect(final.attempts?.map(\.outcome) == [.lost, .succeeded], "\(shown)")
    }

    @Test func drill7ShortCoordinatorOutageReassignsNothing() async throws {
        // The coordinator freezes for longer than the TTL while a task finishes: on waking it
        // must not blame the nodes for its own stall, and the buffered report is accepted.
        let cluster = try await TestCluster.start(agents: 1, leaseTTL: "2s", agentArguments: ["--disconnect-grace", "20s"])
        defer { cluster.stopNow() }
        let job = try await cluster.client.submit(.object(["name": .string("patient"), "team": .string("ml"), "command": .string("sleep 1; echo done")]))
        try await cluster.waitUntil("running", timeout: .seconds(10)) { try await cluster.client.jobSummary(job.id).tasks.running == 1 }
        await cluster.signalCoordinator(SIGSTOP)
        try await Task.sleep(for: .seconds(3))
        await cluster.signalCoordinator(SIGCONT)
        let resumedAt = ContinuousClock.now
        let wait = try await cluster.drover(["wait", job.id])
        print("drill 7: result accepted \(Self.seconds(ContinuousClock.now - resumedAt)) after the coordinator resumed from a 3s freeze (TTL 2s)")
        #expect(wait.status == 0, "\(cluster.diagnostics())")
        let final = try await cluster.client.job(job.id)
        #expect(final.attempts?.count == 1, "nothing was reassigned")
        #expect(final.attempts?.first?.outcome == .succeeded)
        #expect(try await cluster.client.nodes().first?.state == .ready)
    }

    @Test func checkpointExitCodeResumesWithoutUsingTheFailureBudget() async throws {
        let cluster = try await TestCluster.start(agents: 1)
        defer { cluster.stopNow() }
        // Each attempt adds a step to its checkpoint and exits 85 until three steps are saved.
        let job = try await cluster.client.submit(.object([
            "name": .string("resumable"), "team": .string("research"), "maxAttempts": .number(1), "checkpointExitCode": .number(85),
            "command": .string("""
                echo step >> "$DROVER_CHECKPOINT_DIR/steps"
                [ $(wc -l < "$DROVER_CHECKPOINT_DIR/steps") -ge 3 ] && exit 0
                exit 85
                """),
        ]))
        let wait = try await cluster.drover(["wait", job.id])
        #expect(wait.status == 0, "\(cluster.diagnostics())")
        let final = try await cluster.client.job(job.id)
        #expect(final.attempts?.map(\.outcome) == [.preempted, .preempted, .succeeded])
        #expect(final.attempts?.map(\.attempt) == [1, 2, 3])
    }

    @Test func drill8DatabaseLockedByAnotherProcessAnswers503AndResumesWithoutLosingAnything() async throws {
        let cluster = try await TestCluster.start(agents: 1)
        defer { cluster.stopNow() }
        let kept = try await cluster.client.submit(.object(["name": .string("before"), "team": .string("ml"), "command": .string("true")]))
        #expect(try await cluster.drover(["wait", kept.id]).status == 0)
        let pid = try #require(cluster.coordinatorPID)
        // Given another process holds the database's write lock past the store's busy timeout (10 s),
        let lock = try SQLiteWriteLock(database: cluster.dataDirectory + "/drover.sqlite")
        defer { lock.release() }
        // a submission is refused with 503 and stored nothing, and so is a read, while the coordinator stays up.
        let refused = await #expect(throws: DroverClientError.self) {
            _ = try await cluster.client.submit(.object(["name": .string("refused"), "team": .string("ml"), "command": .string("true")]))
        }
        #expect(refused?.status == 503, "\(String(describing: refused))")
        let read = await #expect(throws: DroverClientError.self) { _ = try await cluster.client.jobs() }
        #expect(read?.status == 503)
        #expect(kill(pid, 0) == 0 && cluster.coordinatorPID == pid, "the coordinator process is still the same and alive")
        // When the lock is released, the coordinator reloads and serves again, with what was acknowledged.
        lock.release()
        try await cluster.waitUntil("the coordinator serves again", timeout: .seconds(60), every: .milliseconds(200)) {
            (try? await cluster.client.jobs()) != nil
        }
        let names = try await cluster.client.jobs().map(\.name)
        #expect(names == ["before"], "the refused submission must not appear")
        #expect(try await cluster.client.job(kept.id).state == .succeeded)
        // and the agent takes work again.
        let after = try await cluster.client.submit(.object(["name": .string("after"), "team": .string("ml"), "command": .string("true")]))
        #expect(try await cluster.drover(["wait", after.id]).status == 0, "\(cluster.diagnostics())")
        #expect(kill(pid, 0) == 0)
    }
}
