import DroverAPI
import DroverClient
import DroverTesting
import Foundation
import Testing

/// `drover jobs` as a user reads it, and a node whose agent stops gracefully, against real processes.
@Suite(.serialized)
struct JobListTests {
    @Test func jobsShowsSubmitterTasksDoneElapsedAndTheReasonRightAligningNumbers() async throws {
        // Given a failed job, a succeeded one, and one that waits because its only node is cordoned,
        let cluster = try await TestCluster.start(agents: 1)
        defer { cluster.stopNow() }
        let fails = try await cluster.client.submit(.object(["name": .string("fails"), "team": .string("ml"), "command": .string("exit 3"),
                                                             "maxAttempts": .number(1)]))
        let quick = try await cluster.client.submit(.object(["name": .string("quick"), "team": .string("nlp"), "command": .string("true")]))
        try await cluster.waitUntil("both jobs finished", timeout: .seconds(30)) {
            let failsDone = try await cluster.client.jobSummary(fails.id).isFinished
            let quickDone = try await cluster.client.jobSummary(quick.id).isFinished
            return failsDone && quickDone
        }
        let node = try #require(try await cluster.client.nodes().first)
        _ = try await cluster.client.node(node.id, action: "cordon")
        let waits = try await cluster.client.submit(.object(["name": .string("waits"), "team": .string("ml"), "command": .string("true")]))
        let failed = try await cluster.client.job(fails.id)
        let pending = try #require(try await cluster.client.job(waits.id).pendingReason)
        #expect(failed.state == .failed && pending.count > 40)

        // when the user lists jobs,
        let list = try await cluster.drover(["jobs"])
        #expect(list.status == 0, "\(list.stdout)")
        let lines = list.stdout.split(separator: "\n").map(String.init)
        let header = try #require(lines.first)
        #expect(header.split(separator: " ", omittingEmptySubsequences: true)
            == ["ID", "NAME", "TEAM", "SUBMITTER", "STATE", "TASKS", "ELAPSED", "COST", "REASON"], "\(header)")
        func row(_ name: String) throws -> String { try #require(lines.first { $0.contains(" \(name) ") }, "\(list.stdout)") }
        // each row names the submitter, the tasks done of all and the state,
        let failedRow = try row("fails"), quickRow = try row("quick"), waitsRow = try row("waits")
        #expect(failedRow.contains(" \(failed.submittedBy) ") && failedRow.contains(" failed ") && failedRow.contains(" 1/1 "), "\(failedRow)")
        #expect(quickRow.contains(" nlp ") && quickRow.contains(" succeeded ") && quickRow.contains(" 1/1 "), "\(quickRow)")
        #expect(waitsRow.contains(" queued ") && waitsRow.contains(" 0/1 "), "\(waitsRow)")
        // the reason is why it waits, cut to 40 characters, or why it failed,
        func cut(_ text: String) -> String { text.count <= 40 ? text : String(text.prefix(39)) + "…" }
        #expect(waitsRow.hasSuffix("  " + cut(pending)) && waitsRow.hasSuffix("…"), "\(waitsRow)")
        #expect(failedRow.hasSuffix("  " + cut(failed.reason ?? "-")), "\(failedRow)")
        #expect(quickRow.split(separator: " ").last?.wholeMatch(of: /[0-9]+\.[0-9]+/) != nil, "a succeeded job has no reason: \(quickRow)")
        // elapsed is a duration in human form,
        for line in [failedRow, quickRow, waitsRow] {
            let cells = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            #expect(cells[6].wholeMatch(of: /[0-9]+(\.[0-9])?(ms|s)|[0-9]+m([0-9]+s)?|[0-9]+h([0-9]+m)?/) != nil, "elapsed '\(cells[6])' in \(line)")
        }
        // and the columns of numbers end where their header does (right-aligned).
        for column in ["ID", "TASKS", "ELAPSED", "COST"] {
            let end = try #require(header.range(of: column)).upperBound.utf16Offset(in: header)
            for line in lines.dropFirst() {
                let characters = Array(line)
                #expect(characters.count >= end && characters[end - 1] != " " && (characters.count == end || characters[end] == " "),
                        "\(column) not right-aligned in\n\(list.stdout)")
            }
        }
    }

    @Test func anAgentStoppedWithSIGTERMLeavesItsNodeDownAtOnceAndItsTaskRunsElsewhere() async throws {
        // Given a long task on one of two agents, and a lease TTL far longer than the test waits,
        let cluster = try await TestCluster.start(agents: 2, leaseTTL: "120s")
        defer { cluster.stopNow() }
        let job = try await cluster.client.submit(.object(["name": .string("long"), "team": .string("ml"), "command": .string("exec sleep 300")]))
        try await cluster.waitUntil("the task to run", timeout: .seconds(30)) { try await cluster.client.jobSummary(job.id).tasks.running == 1 }
        let first = try #require(try await cluster.client.job(job.id).attempts?.first?.node)
        let other = first == "agent-1" ? "agent-2" : "agent-1"
        // when its agent is stopped gracefully (SIGTERM; this returns once it exited),
        await cluster.signalAgent(first, SIGTERM)
        // `drover nodes` shows its node down long before the TTL could,
        try await cluster.waitUntil("\(first) down", timeout: .seconds(30)) {
            let nodes = try await cluster.drover(["nodes"])
            return nodes.stdout.split(separator: "\n").contains { $0.contains(" \(first) ") && $0.contains(" down ") }
        }
        #expect(try await cluster.client.nodes().first { $0.name == other }?.state == .ready)
        // and the task is requeued and runs on the other agent.
        try await cluster.waitUntil("the task running on \(other)", timeout: .seconds(30)) {
            let view = try await cluster.client.job(job.id)
            return view.state == .running && (view.attempts ?? []).contains { $0.node == other && $0.outcome == .running }
        }
        let attempts = try #require(try await cluster.client.job(job.id).attempts)
        #expect(attempts.filter { $0.node == first }.allSatisfy { $0.outcome == .preempted || $0.outcome == .lost }, "\(attempts.map(\.outcome))")
        let log = (try? String(contentsOfFile: cluster.directory + "/\(first).log", encoding: .utf8)) ?? ""
        #expect(log.contains("left the cluster"), "\(log.suffix(2000))")
    }
}
