import DroverCore
import DroverClient
import DroverTesting
import Testing

@testable import DroverAgent

@Suite(.timeLimit(.minutes(1)))
struct MonotonicClockTests {
    @Test func aManualSleeperWakesOnlyWhenTheClockPassesItsDeadline() async throws {
        let clock = ManualMonotonicClock()
        let deadline = clock.now + .seconds(1)
        let sleeper = Task { try await clock.sleep(until: deadline) }
        await clock.waitForSleeper(until: deadline)
        clock.advance(by: .milliseconds(999))
        #expect(clock.sleepingUntil == [deadline], "not due yet: still asleep")
        clock.advance(by: .milliseconds(1))
        try await sleeper.value
        #expect(clock.sleepingUntil.isEmpty)
    }

    @Test func aSleepPastItsDeadlineReturnsAtOnce() async throws {
        let clock = ManualMonotonicClock()
        try await clock.sleep(until: clock.now)
        try await clock.sleep(for: .zero)
    }

    @Test func cancellingAManualSleeperThrowsAndForgetsIt() async {
        let clock = ManualMonotonicClock()
        let deadline = clock.now + .seconds(5)
        let sleeper = Task { try await clock.sleep(until: deadline) }
        await clock.waitForSleeper(until: deadline)
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(clock.sleepingUntil.isEmpty)
    }

    @Test func withTimeoutGivesUpOnAnOperationThatOutlastsIt() async throws {
        // Given an operation that never ends by itself, when the clock passes the timeout,
        // then the operation is cancelled and the answer is nil.
        let clock = ManualMonotonicClock()
        let cancelled = Latch()
        let call = Task {
            try await clock.withTimeout(.seconds(2)) { () async throws -> Int in
                await Latch().wait()
                cancelled.open()
                throw CancellationError()
            }
        }
        await clock.advance(whenSleepingUntil: clock.now + .seconds(2))
        #expect(try await call.value == nil)
        #expect(cancelled.isOpen)
    }

    @Test func withTimeoutPassesOnAnAnswerOrAnError() async throws {
        let clock = ManualMonotonicClock()
        #expect(try await clock.withTimeout(.seconds(1)) { 42 } == 42)
        await #expect(throws: DroverClientError.self) {
            _ = try await clock.withTimeout(.seconds(1)) { () async throws -> Int in throw StubCoordinator.unreachable }
        }
    }

    @Test func aLatchWaitEndsWhenOpenedOrAtTheDeadline() async {
        let clock = ManualMonotonicClock()
        let latch = Latch()
        let deadline = clock.now + .seconds(1)
        let timedOut = Task { await latch.wait(orUntil: deadline, on: clock) }
        await clock.advance(whenSleepingUntil: deadline)
        #expect(await timedOut.value == false)
        let opened = Task { await latch.wait(orUntil: clock.now + .seconds(1), on: clock) }
        latch.open()
        #expect(await opened.value == true)
        #expect(await latch.wait(orUntil: clock.now, on: clock), "an open latch stays open")
    }

    @Test func theContinuousClockIsTheProductionClock() async throws {
        let clock: any MonotonicClock = ContinuousClock()
        let start = clock.now
        try await clock.sleep(for: .milliseconds(1))
        #expect(clock.now - start >= .milliseconds(1))
    }
}

struct BackoffTests {
    @Test func doublesUpToTheLimitAndStartsOverAfterASuccess() {
        var backoff = Backoff(initial: .milliseconds(100), limit: .milliseconds(500))
        #expect((0..<5).map { _ in backoff.next() } == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(500), .milliseconds(500)])
        backoff.reset()
        #expect(backoff.next() == .milliseconds(100))
    }
}
