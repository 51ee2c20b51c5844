import DroverCore
import DroverTesting
import Foundation
import Glibc
import Testing

@testable import DroverAgent

/// The uid range setting, the pool that hands its uids to running attempts, and the choice
/// between isolated and shared tasks.
@Suite struct TaskUIDPoolTests {
    @Test func runningAttemptsNeverShareAUid() {
        var pool = TaskUIDPool(range: 100...109)
        let held = (0..<10).compactMap { _ in pool.acquire() }
        #expect(held.count == 10)
        #expect(Set(held).count == 10)
        #expect(held.allSatisfy { (100...109).contains($0) })
        #expect(pool.acquire() == nil, "every uid is held")
    }

    @Test func aReleasedUidComesBackOnlyAfterTheOthers() {
        var pool = TaskUIDPool(range: 100...102)
        let first = pool.acquire()
        pool.release(first!)
        // Round-robin: the other uids first, then the released one.
        #expect([pool.acquire(), pool.acquire(), pool.acquire()] == [101, 102, 100])
    }

    @Test func afterTheLastUidTheRangeStartsAgainSkippingHeldOnes() {
        var pool = TaskUIDPool(range: 100...102)
        let uids = [pool.acquire()!, pool.acquire()!, pool.acquire()!]
        pool.release(uids[0])
        pool.release(uids[2])
        #expect(pool.acquire() == 100)
        #expect(pool.acquire() == 102, "101 is still held")
        #expect(pool.heldCount == 3)
    }

    @Test func aRangeOfOneIsHeldByOneAttemptAtATime() {
        var pool = TaskUIDPool(range: 7...7)
        #expect(pool.acquire() == 7)
        #expect(pool.acquire() == nil)
        pool.release(7)
        #expect(pool.acquire() == 7)
    }

    @Test func theWholeDefaultRangeCanBeHeld() {
        var pool = TaskUIDPool(range: TaskUIDRange.defaultRange)
        var seen = Set<UInt32>()
        while let uid = pool.acquire() { seen.insert(uid) }
        #expect(seen.count == 65536)
    }
}

@Suite struct TaskUIDRangeTests {
    @Test func aRangeOrNoneIsAccepted() {
        #expect(TaskUIDRange.parse("2000000000-2000065535") == .success(TaskUIDRange.defaultRange))
        #expect(TaskUIDRange.parse(TaskUIDRange.defaultText) == .success(TaskUIDRange.defaultRange))
        #expect(TaskUIDRange.parse("70000-70000") == .success(70000...70000))
        #expect(TaskUIDRange.parse("none") == .success(nil))
    }

    @Test(arguments: [
        ("1000", "is not a uid range FIRST-LAST"), ("a-b", "is not a uid range"), ("-5", "is not a uid range"), ("1-2-3", "is not a uid range"),
        ("5000000000-5000000001", "is not a uid range"), ("200-100", "ends before it begins"), ("0-100", "includes uid 0 (root)"),
        ("60000-70000", "reserved uid 65534"), ("4294967290-4294967295", "reserved uid 4294967295"),
    ])
    func aBadRangeIsRefusedSayingWhy(text: String, message: String) {
        guard case .failure(let refusal) = TaskUIDRange.parse(text) else {
            Issue.record("'\(text)' was accepted")
            return
        }
        #expect(refusal.message.contains(message), "\(refusal.message)")
    }

    @Test func theSettingDefaultsToTheRangeAndNamesItselfInAnError() throws {
        #expect(try AgentConfiguration.resolve(flags: ["join-token": "j"], environment: [:]).taskUIDs == TaskUIDRange.defaultRange)
        #expect(try AgentConfiguration.resolve(flags: ["join-token": "j", "task-uids": "none"], environment: [:]).taskUIDs == nil)
        #expect(try AgentConfiguration.resolve(flags: ["join-token": "j"], environment: ["DROVER_AGENT_TASK_UIDS": "100-200"]).taskUIDs == 100...200)
        do {
            _ = try AgentConfiguration.resolve(flags: ["join-token": "j", "task-uids": "0-10"], environment: [:])
            Issue.record("a range with root was accepted")
        } catch {
            #expect("\(error)".contains("--task-uids") && "\(error)".contains("uid 0"), "\(error)")
        }
    }
}

@Suite struct TaskUsersDecisionTests {
    @Test func rootWithSetprivAndARangeIsolates() {
        let decision = TaskUsers.decide(range: 100...200, agentUID: 0, setpriv: "/usr/bin/setpriv")
        #expect(decision == .isolated(100...200, setpriv: "/usr/bin/setpriv"))
        #expect(TaskUsers(decision).isolation == .uid)
    }

    @Test func otherwiseTasksShareTheAgentsUidAndTheWarningSaysWhatToDo() {
        let cases: [(TaskUsers.Decision, String)] = [
            (TaskUsers.decide(range: nil, agentUID: 0, setpriv: "/usr/bin/setpriv"), "--task-uids none"),
            (TaskUsers.decide(range: 100...200, agentUID: 1000, setpriv: "/usr/bin/setpriv"), "run the agent as root"),
            (TaskUsers.decide(range: 100...200, agentUID: 0, setpriv: nil), "install util-linux"),
            (TaskUsers.decide(range: 100...200, agentUID: 0, setpriv: "/usr/bin/setpriv", closedDirectory: "/root"), "chmod o+x /root"),
        ]
        for (decision, advice) in cases {
            guard case .shared(let reason) = decision else {
                Issue.record("\(decision) isolates")
                continue
            }
            #expect(reason.contains("not isolated from each other"), "\(reason)")
            #expect(reason.contains(advice), "\(reason)")
            #expect(TaskUsers(decision).isolation == .shared)
        }
    }

    @Test func aDirectoryOthersMayNotEnterIsFoundAboveTheWorkDirectory() throws {
        let open = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: open) }
        try FileManager.default.createDirectory(atPath: open + "/closed/work", withIntermediateDirectories: true)
        chmod(open + "/closed", 0o700)
        #expect(TaskUsers.firstClosedDirectory(among: [open + "/work", open + "/closed/work/checkpoints"]) == open + "/closed")
        chmod(open + "/closed", 0o711)
        #expect(TaskUsers.firstClosedDirectory(among: [open + "/work", open + "/closed/work/checkpoints"]) == nil)
    }

    @Test func aRangeThatIncludesAnAccountIsRefusedNamingIt() throws {
        // Every passwd database has a system account between 1 and 65533 (daemon, bin, …).
        do {
            try TaskUsers(.isolated(1...65533, setpriv: "/usr/bin/setpriv")).checkRange()
            Issue.record("a range with accounts in it was accepted")
        } catch {
            #expect("\(error)".contains("of the account '") && "\(error)".contains(TaskUIDRange.defaultText), "\(error)")
        }
        try TaskUsers(.isolated(TaskUIDRange.defaultRange, setpriv: "/usr/bin/setpriv")).checkRange()
    }

    @Test func setprivIsLookedUpInThePathsAbsoluteDirectories() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        FileManager.default.createFile(atPath: directory + "/setpriv", contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o755])
        #expect(TaskUsers.findSetpriv(path: directory) == directory + "/setpriv")
        #expect(TaskUsers.findSetpriv(path: "relative:.")?.hasPrefix("/") != false, "a relative PATH entry is skipped")
    }

    @Test func sharedUsersHandOutNoUid() async {
        #expect(await TaskUsers.shared.acquire(clock: ContinuousClock(), stop: { nil }) == .shared)
    }

    @Test func anAttemptWaitsForAUidUntilOneIsReleasedOrItIsStopped() async throws {
        let users = TaskUsers(.isolated(100...100, setpriv: "/usr/bin/setpriv"))
        guard case .user(let first) = await users.acquire(clock: ContinuousClock(), stop: { nil }) else {
            Issue.record("no uid for the first attempt")
            return
        }
        #expect(first == ProcessUser(uid: 100, gid: 100, setpriv: "/usr/bin/setpriv"))
        // A second attempt waits while the only uid is held; a stop ends its wait.
        #expect(await users.acquire(clock: ContinuousClock(), stop: { .cancelled("gone") }) == .stopped(.cancelled("gone")))
        // Once released, the waiting attempt gets it.
        let second = Task { await users.acquire(clock: ContinuousClock(), stop: { nil }) }
        users.release(first)
        #expect(await second.value == .user(first))
    }

    @Test func setprivDropsGroupsAndCapabilitiesAndKeepsTheProgramsArgv() {
        let user = ProcessUser(uid: 2_000_000_001, gid: 2_000_000_001, setpriv: "/usr/bin/setpriv")
        #expect(user.argv(running: ["sh", "-c", "id"]) == [
            "/usr/bin/setpriv", "--reuid=2000000001", "--regid=2000000001", "--clear-groups", "--inh-caps=-all", "--", "sh", "-c", "id",
        ])
    }
}
