import DroverAPI
import DroverTesting
import Foundation
import Testing

@testable import DroverAgent

/// The heartbeat on a manual clock: each tick is taken only once the heartbeat sleeps until
/// it (`advance(whenSleepingUntil:)`), and a tick's decisions are made before the heartbeat
/// sleeps until the next one, so "nothing was stopped yet" is checked at a known point.
@Suite(.timeLimit(.minutes(1)))
struct HeartbeatTests {
    let coordinator = StubCoordinator()
    let clock = ManualMonotonicClock()
    let attempts = RunningAttempts(killGrace: .seconds(5), logger: quietLogger)
    let contact: CoordinatorContact
    let interval = Duration.seconds(1)

    init() {
        contact = CoordinatorContact(clock: clock, logger: quietLogger)
        attempts.add(makeLease("101"))
    }

    func heartbeat(grace: Duration = .seconds(3600), requestTimeout: Duration? = nil) -> Heartbeat {
        Heartbeat(link: coordinator, clock: clock, attempts: attempts, contact: contact, interval: interval, grace: grace,
                  requestTimeout: requestTimeout, logger: quietLogger)
    }

    /// Runs the heartbeat until the test ends.
    func start(_ heartbeat: Heartbeat) -> Task<Void, Never> {
        Task { await heartbeat.run() }
    }

    /// Takes tick `k` (at `origin + k × interval`) and returns once its decisions are made.
    func tick(_ k: Int, from origin: ContinuousClock.Instant) async {
        await clock.advance(whenSleepingUntil: origin + interval * k)
        await clock.waitForSleeper(until: origin + interval * (k + 1))
    }

    @Test func renewsTheAttemptsHeldEveryIntervalWithTheirProgress() async throws {
        coordinator.onHeartbeat { _ in HeartbeatResponse(unknown: [], cancel: []) }
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try #"{"progress":0.5}"#.write(toFile: directory + "/progress", atomically: true, encoding: .utf8)
        let process = try RunningProcess.spawn(ProcessLaunch(argv: ["/bin/true"], environment: [:], workingDirectory: directory, outputPath: directory + "/out"))
        _ = attempts.attach("101", process: process, progressPath: directory + "/progress")
        let origin = clock.now
        let running = start(heartbeat())
        defer { running.cancel() }
        var beats = coordinator.heartbeats.stream.makeAsyncIterator()
        await clock.waitForSleeper(until: origin + interval)
        #expect(coordinator.heartbeats.values.isEmpty, "the first beat waits one interval")
        await tick(1, from: origin)
        #expect(await beats.next()?.attempts == [HeartbeatAttempt(attemptId: "101", progress: .object(["progress": .number(0.5)]))])
        // The next beat goes out at a later tick (tick 2 unless the first answer was still
        // being read then: one request at a time).
        var k = 2
        while coordinator.heartbeats.values.count < 2 {
            await tick(k, from: origin)
            k += 1
        }
        #expect(await beats.next()?.attempts.map(\.attemptId) == ["101"])
    }

    @Test func newProgressGoesOutBeforeTheNextIntervalAndNothingGoesOutEarlyWithoutIt() async throws {
        // Given an interval of 5 s, progress files are checked every second.
        coordinator.onHeartbeat { _ in HeartbeatResponse(unknown: [], cancel: []) }
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let progress = directory + "/progress"
        try #"{"progress":0.5}"#.write(toFile: progress, atomically: true, encoding: .utf8)
        let process = try RunningProcess.spawn(ProcessLaunch(argv: ["/bin/true"], environment: [:], workingDirectory: directory, outputPath: directory + "/out"))
        _ = attempts.attach("101", process: process, progressPath: progress)
        let heartbeat = Heartbeat(link: coordinator, clock: clock, attempts: attempts, contact: contact, interval: .seconds(5), grace: .seconds(3600),
                                  logger: quietLogger)
        let second = Duration.seconds(1)
        let origin = clock.now
        let running = start(heartbeat)
        defer { running.cancel() }
        var beats = coordinator.heartbeats.stream.makeAsyncIterator()
        // When the first check finds progress no beat carried, it goes out then, 4 s before the interval's beat;
        await clock.advance(whenSleepingUntil: origin + second)
        #expect(await beats.next()?.attempts == [HeartbeatAttempt(attemptId: "101", progress: .object(["progress": .number(0.5)]))])
        while heartbeat.requestInFlight { await Task.yield() }
        // a check that finds nothing new sends nothing,
        await clock.advance(whenSleepingUntil: origin + second * 2)
        await clock.waitForSleeper(until: origin + second * 3)
        #expect(coordinator.heartbeats.values.count == 1)
        // and the next new line goes out at the next check.
        try #"{"progress":0.6}"#.write(toFile: progress, atomically: true, encoding: .utf8)
        await clock.advance(whenSleepingUntil: origin + second * 3)
        #expect(await beats.next()?.attempts == [HeartbeatAttempt(attemptId: "101", progress: .object(["progress": .number(0.6)]))])
    }

    @Test func unknownAndCancelledAttemptsAreStopped() async {
        attempts.add(makeLease("102"))
        attempts.add(makeLease("103"))
        coordinator.onHeartbeat { _ in HeartbeatResponse(unknown: ["101", "103"], cancel: ["102", "103"]) }
        await heartbeat().beat()
        #expect(attempts.stopReason("101") == .cancelled("lease no longer held"))
        #expect(attempts.stopReason("102") == .cancelled("job ended; stopped at the coordinator's request"))
        #expect(attempts.stopReason("103") == .cancelled("lease no longer held"), "unknown comes first")
    }

    @Test func attemptsWhoseReportIsUndeliveredAreStillListed() async {
        // The coordinator would declare an attempt left out of a heartbeat lost, and a
        // heartbeat can reach it before a report buffered while it was unreachable.
        coordinator.onHeartbeat { _ in HeartbeatResponse(unknown: ["100"], cancel: []) }
        let heartbeat = Heartbeat(link: coordinator, clock: clock, attempts: attempts, contact: contact, interval: interval, grace: .seconds(3600),
                                  undeliveredReports: { ["100", "101"] }, logger: quietLogger)
        await heartbeat.beat()
        #expect(coordinator.heartbeats.values.first?.attempts.map(\.attemptId) == ["101", "100"], "each listed once")
        #expect(attempts.stopReason("101") == nil, "an ended attempt the coordinator no longer knows needs nothing")
    }

    @Test func aHeartbeatAnswerResetsTheSilence() async {
        coordinator.onHeartbeat { _ in HeartbeatResponse(unknown: [], cancel: []) }
        clock.advance(by: .seconds(10))
        await heartbeat().beat()
        #expect(contact.silence == .zero)
    }

    @Test func unreachableForLongerThanTheGraceStopsEveryTask() async {
        // Given heartbeats that fail at once and a grace of 3 intervals: ticks 1–3 stop
        // nothing (silent 1 s, 2 s, 3 s), tick 4 (silent 4 s) stops the task.
        let origin = clock.now
        let running = start(heartbeat(grace: interval * 3))
        defer { running.cancel() }
        for k in 1...3 {
            await tick(k, from: origin)
            #expect(attempts.stopReason("101") == nil, "tick \(k) is within the grace")
        }
        await tick(4, from: origin)
        let reason = attempts.stopReason("101")
        #expect(reason?.reason.contains("disconnect grace of 3.0 seconds") == true, "\(String(describing: reason))")
        guard case .cancelled = reason else { Issue.record("a task stopped past the grace is cancelled"); return }
    }

    @Test func aRequestThatNeverAnswersDoesNotDelayTheGrace() async {
        // The partition of the fault rig: the coordinator's host drops packets, so a heartbeat
        // request hangs. Even if it hung for an hour, the task stops at the first tick past the
        // grace (it used to run on until the HTTP client's own 30 s timeout failed the request).
        coordinator.onHeartbeat { _ in try await coordinator.neverAnswer("heartbeat") }
        let origin = clock.now
        let running = start(heartbeat(grace: interval * 3, requestTimeout: .seconds(3600)))
        defer { running.cancel() }
        var beats = coordinator.heartbeats.stream.makeAsyncIterator()
        for k in 1...3 {
            await tick(k, from: origin)
            #expect(attempts.stopReason("101") == nil, "tick \(k) is within the grace")
        }
        #expect(await beats.next() != nil, "a request is in flight")
        await tick(4, from: origin)
        #expect(attempts.stopReason("101")?.reason.contains("disconnect grace") == true)
        #expect(coordinator.heartbeats.values.count == 1, "one request at a time: the hung one was not joined by more")
    }

    @Test func aHungRequestIsGivenUpAfterTheRequestTimeoutAndTheNextOneSent() async {
        coordinator.onHeartbeat { _ in try await coordinator.neverAnswer("heartbeat") }
        let origin = clock.now
        let running = start(heartbeat(requestTimeout: interval))
        defer { running.cancel() }
        var cancelled = coordinator.cancelled.stream.makeAsyncIterator()
        await tick(1, from: origin)
        await tick(2, from: origin)
        #expect(await cancelled.next() == "heartbeat", "the first request was cancelled at its timeout")
        var k = 3
        while coordinator.heartbeats.values.count < 2 {
            await tick(k, from: origin)
            k += 1
        }
        #expect(coordinator.heartbeats.values.count == 2, "a new request went out after the hung one was given up")
    }

    @Test func contactThroughAnotherPartKeepsTasksRunning() async {
        // Heartbeats fail, but a report gets through at tick 3: the grace counts from there.
        let origin = clock.now
        let running = start(heartbeat(grace: interval * 3))
        defer { running.cancel() }
        for k in 1...2 { await tick(k, from: origin) }
        await clock.advance(whenSleepingUntil: origin + interval * 3)
        contact.noteContact()
        for k in 4...6 {
            await tick(k, from: origin)
            #expect(attempts.stopReason("101") == nil, "tick \(k): silent \(k - 3) s at most")
        }
        await tick(7, from: origin)
        #expect(attempts.stopReason("101") != nil)
    }
}
