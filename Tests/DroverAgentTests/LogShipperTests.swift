import DroverTesting
import Foundation
import Testing

@testable import DroverAgent

@Suite(.timeLimit(.minutes(1)))
struct LogShipperTests {
    let coordinator = StubCoordinator()
    let clock = ManualMonotonicClock()
    var shipper: LogShipper { LogShipper(link: coordinator, clock: clock, logger: quietLogger) }

    func file(_ contents: String) throws -> String {
        let path = try temporaryDirectory() + "/output.log"
        try contents.write(toFile: path, atomically: false, encoding: .utf8)
        return path
    }

    func append(_ text: String, to path: String) throws {
        let handle = try #require(FileHandle(forWritingAtPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
    }

    @Test func shipsWhatWasWrittenSinceTheOffsetInChunksAtTheFilesOffsets() async throws {
        let size = LogShipper.chunkBytes * 2 + 100
        let path = try file(String(repeating: "a", count: size))
        #expect(await shipper.ship(makeLease(), path: path, from: 0) == .at(Int64(size)))
        #expect(coordinator.uploads.values.map(\.offset) == [0, Int64(LogShipper.chunkBytes), Int64(LogShipper.chunkBytes * 2)])
        #expect(coordinator.uploads.values.map(\.data.count) == [LogShipper.chunkBytes, LogShipper.chunkBytes, 100])
        try append("more\n", to: path)
        #expect(await shipper.ship(makeLease(), path: path, from: Int64(size)) == .at(Int64(size + 5)))
        #expect(coordinator.uploads.values.last == StubCoordinator.Upload(attempt: "101", offset: Int64(size), data: Array("more\n".utf8)))
    }

    @Test func aFailedUploadIsRetriedFromTheSameOffset() async throws {
        let path = try file("hello\n")
        coordinator.onUpload { _ in throw StubCoordinator.unreachable }
        #expect(await shipper.ship(makeLease(), path: path, from: 0) == .at(0))
        coordinator.onUpload { _ in }
        #expect(await shipper.ship(makeLease(), path: path, from: 0) == .at(6))
        #expect(coordinator.uploads.values.map(\.offset) == [0, 0])
    }

    @Test(arguments: [409, 403])
    func aRefusedUploadMeansTheLeaseIsGone(status: Int) async throws {
        let path = try file("hello\n")
        coordinator.onUpload { _ in throw StubCoordinator.refused(status) }
        #expect(await shipper.ship(makeLease(), path: path, from: 0) == .leaseGone)
    }

    @Test func secretsAreMaskedKeepingOffsets() async throws {
        let path = try file("token=hunter22 and again hunter22; pin=123\n")
        let lease = makeLease(env: ["TOKEN": "hunter22", "PIN": "123"], secretEnv: ["TOKEN", "PIN"])
        #expect(await shipper.ship(lease, path: path, from: 0) == .at(43))
        #expect(coordinator.uploads.values.first?.text == "token=******** and again ********; pin=123\n",
                "secrets under 4 bytes are left alone (they would mask ordinary text)")
    }

    @Test func aSecretWrittenInTwoPiecesIsNeverShippedHalfInClear() async throws {
        let lease = makeLease(env: ["TOKEN": "hunter22"], secretEnv: ["TOKEN"])
        let path = try file("token=hunt")
        // While the task runs, the bytes that could begin the secret wait for the next turn;
        #expect(await shipper.ship(lease, path: path, from: 0, final: false) == .at(3))
        try append("er22 ok\n", to: path)
        // the rest, masked with what came before, goes once the task has exited.
        #expect(await shipper.ship(lease, path: path, from: 3, final: true) == .at(18))
        let shipped = coordinator.uploads.values.map(\.text).joined()
        #expect(shipped == "token=******** ok\n")
        #expect(coordinator.uploads.values.map(\.offset) == [0, 3], "offsets are the file's")
    }

    @Test func aSecretAcrossTheChunkBoundaryIsMasked() async throws {
        let lease = makeLease(env: ["TOKEN": "hunter22"], secretEnv: ["TOKEN"])
        let prefix = String(repeating: "a", count: LogShipper.chunkBytes - 4)
        let path = try file(prefix + "hunter22\n")
        #expect(await shipper.ship(lease, path: path, from: 0) == .at(Int64(prefix.utf8.count + 9)))
        let shipped = coordinator.uploads.values.map(\.text).joined()
        #expect(shipped == prefix + "********\n" && coordinator.uploads.values.count == 2)
    }

    @Test func maskingInPlaceCatchesASecretAcrossChunksAndFollowsNoLink() throws {
        let prefix = String(repeating: "a", count: LogShipper.chunkBytes - 3)
        let path = try file(prefix + "hunter22 hunter22\n")
        LogShipper.maskInPlace(path, secrets: ["hunter22"])
        #expect(try String(contentsOfFile: path, encoding: .utf8) == prefix + "******** ********\n")
        let target = try file("hunter22 elsewhere\n")
        let link = (path as NSString).deletingLastPathComponent + "/link.log"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        LogShipper.maskInPlace(link, secrets: ["hunter22"])
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "hunter22 elsewhere\n", "the link's target is untouched")
    }

    @Test func aLinkOrAFIFOPutInPlaceOfTheOutputIsNotRead() async throws {
        // A task owns its directory: it may replace its output by a link to a file only the
        // agent can read, or by a FIFO that would block the agent's open.
        let target = try file("another task's secret\n")
        let directory = (target as NSString).deletingLastPathComponent
        try FileManager.default.createSymbolicLink(atPath: directory + "/link.log", withDestinationPath: target)
        #expect(await shipper.ship(makeLease(), path: directory + "/link.log", from: 0) == .at(0))
        #expect(mkfifo(directory + "/fifo.log", 0o600) == 0)
        #expect(await shipper.ship(makeLease(), path: directory + "/fifo.log", from: 0) == .at(0))
        #expect(coordinator.uploads.values.isEmpty)
        try FileManager.default.createSymbolicLink(atPath: directory + "/progress.jsonl", withDestinationPath: try file(#"{"stolen":1}"# + "\n"))
        #expect(ProgressFile.latest(at: directory + "/progress.jsonl") == nil)
    }

    @Test func followShipsEveryIntervalAndOnceMoreAfterTheExit() async throws {
        let path = try file("first\n")
        let exited = Latch()
        let start = clock.now
        let following = Task { [shipper] in await shipper.follow(makeLease(), path: path, until: exited) }
        #expect(coordinator.uploads.values.isEmpty, "nothing before the first interval")
        await clock.advance(whenSleepingUntil: start + .seconds(1))
        var uploads = coordinator.uploads.stream.makeAsyncIterator()
        #expect(await uploads.next()?.text == "first\n")
        await clock.waitForSleeper(until: start + .seconds(2))
        try append("last\n", to: path)
        exited.open()
        #expect(await following.value == .at(11))
        #expect(await uploads.next() == StubCoordinator.Upload(attempt: "101", offset: 6, data: Array("last\n".utf8)), "the final pass ships the end")
    }

    @Test func followStopsWhenTheLeaseIsGone() async throws {
        let path = try file("output\n")
        coordinator.onUpload { _ in throw StubCoordinator.refused(409) }
        let start = clock.now
        let following = Task { [shipper] in await shipper.follow(makeLease(), path: path, until: Latch()) }
        await clock.advance(whenSleepingUntil: start + .seconds(1))
        #expect(await following.value == .leaseGone, "it returns without waiting for the process to exit")
    }
}
