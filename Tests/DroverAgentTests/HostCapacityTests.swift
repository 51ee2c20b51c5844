import Foundation
import Glibc
import Testing

@testable import DroverAgent

/// The package root: this file is <root>/Tests/DroverAgentTests/HostCapacityTests.swift.
private let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The CSV section of the captured nvidia-smi transcript (between its command header and `rc=0`).
private func capturedQueryOutput() throws -> String {
    let fixture = packageRoot.appendingPathComponent("Tests/Fixtures/nvidia-smi/nvidia-smi.txt")
    let transcript = try String(contentsOf: fixture, encoding: .utf8)
    let header = "### nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader"
    var lines: [Substring] = []
    var inSection = false
    for line in transcript.split(separator: "\n", omittingEmptySubsequences: false) {
        if inSection {
            if line.hasPrefix("rc=") { break }
            lines.append(line)
        } else if line == header {
            inSection = true
        }
    }
    try #require(inSection, "section '\(header)' not found in \(fixture.path)")
    return lines.joined(separator: "\n")
}

/// Writes an executable shell script into a fresh temporary directory and returns its path.
private func fakeNvidiaSmi(_ body: String) throws -> String {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("drover-fake-nvidia-smi-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let path = directory.appendingPathComponent("nvidia-smi").path
    try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: false, encoding: .utf8)
    #expect(chmod(path, 0o755) == 0)
    return path
}

private func removeFake(_ path: String) {
    try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent)
}

@Suite("HostCapacity")
struct HostCapacityTests {
    @Test("parses the captured nvidia-smi output")
    func parsesCapturedFixture() throws {
        let devices = try HostCapacity.parseNvidiaSmiCSV(try capturedQueryOutput())
        #expect(devices == [GPUDevice(index: 0, name: "NVIDIA H200", memoryMiB: 143771)])
    }

    @Test("parses several GPUs, blank lines, extra spaces, CRLF and [N/A] memory")
    func parsesMultipleGPUs() throws {
        let text = """

            0, NVIDIA H100 80GB HBM3, 81559 MiB
              1 ,   NVIDIA H100 80GB HBM3 ,81559 MiB\r

            2, Tesla T4, [N/A]
            3, NVIDIA A10, 23028

            """
        let devices = try HostCapacity.parseNvidiaSmiCSV(text)
        #expect(
            devices == [
                GPUDevice(index: 0, name: "NVIDIA H100 80GB HBM3", memoryMiB: 81559),
                GPUDevice(index: 1, name: "NVIDIA H100 80GB HBM3", memoryMiB: 81559),
                GPUDevice(index: 2, name: "Tesla T4", memoryMiB: nil),
                GPUDevice(index: 3, name: "NVIDIA A10", memoryMiB: 23028),
            ])
        #expect(try HostCapacity.parseNvidiaSmiCSV("").isEmpty)
        #expect(try HostCapacity.parseNvidiaSmiCSV("\n  \n").isEmpty)
    }

    @Test(
        "a malformed line throws a descriptive error",
        arguments: [
            "0, NVIDIA H200",
            "zero, NVIDIA H200, 143771 MiB",
            "0, NVIDIA H200, lots",
            "0, NVIDIA H200, 143771 GiB",
            "0, , 143771 MiB",
            "No devices were found",
        ])
    func malformedLineThrows(line: String) throws {
        let text = "0, NVIDIA H200, 143771 MiB\n" + line + "\n"
        let error = #expect(throws: HostCapacityError.self) {
            try HostCapacity.parseNvidiaSmiCSV(text)
        }
        #expect(error?.description.contains("line 2") == true)
        #expect(error?.description.contains(line.trimmingCharacters(in: .whitespaces)) == true)
    }

    @Test("detectGPUs runs the given nvidia-smi and parses its output")
    func detectsWithFakeNvidiaSmi() async throws {
        let fake = try fakeNvidiaSmi(
            """
            [ "$1" = "--query-gpu=index,name,memory.total" ] || { echo "bad args: $*" >&2; exit 2; }
            [ "$2" = "--format=csv,noheader" ] || { echo "bad args: $*" >&2; exit 2; }
            echo "0, NVIDIA H200, 143771 MiB"
            echo "1, NVIDIA H200, 143771 MiB"
            """)
        defer { removeFake(fake) }
        let devices = try await HostCapacity.detectGPUs(executable: fake)
        #expect(
            devices == [
                GPUDevice(index: 0, name: "NVIDIA H200", memoryMiB: 143771),
                GPUDevice(index: 1, name: "NVIDIA H200", memoryMiB: 143771),
            ])
    }

    @Test("detectGPUs returns [] when nvidia-smi is not installed")
    func missingNvidiaSmi() async throws {
        #expect(try await HostCapacity.detectGPUs(executable: "/nonexistent/drover/nvidia-smi").isEmpty)
        #expect(try await HostCapacity.detectGPUs(executable: "drover-no-such-nvidia-smi").isEmpty)
    }

    @Test("detectGPUs throws with stderr when nvidia-smi fails")
    func failingNvidiaSmi() async throws {
        let fake = try fakeNvidiaSmi(
            """
            echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver." >&2
            exit 9
            """)
        defer { removeFake(fake) }
        let error = await #expect(throws: HostCapacityError.self) {
            try await HostCapacity.detectGPUs(executable: fake)
        }
        #expect(error?.description.contains("status 9") == true)
        #expect(error?.description.contains("couldn't communicate with the NVIDIA driver") == true)
    }

    @Test("detectGPUs kills an nvidia-smi that hangs")
    func hangingNvidiaSmi() async throws {
        let fake = try fakeNvidiaSmi("sleep 100")
        defer { removeFake(fake) }
        let start = ContinuousClock.now
        let error = await #expect(throws: HostCapacityError.self) {
            try await HostCapacity.detectGPUs(executable: fake, timeout: .milliseconds(200))
        }
        #expect(error?.description.contains("did not finish") == true)
        // It sleeps far longer: finishing at all within this bound shows it was killed. Loose on purpose,
        // since the suite shares 2 cores with process-heavy integration tests.
        #expect(ContinuousClock.now - start < .seconds(30))
    }

    @Test("the machine has at least one core and some memory")
    func cpuAndMemory() {
        let cores = HostCapacity.cpuCores()
        #expect(cores >= 1)
        #expect(cores <= sysconf(Int32(_SC_NPROCESSORS_CONF)))
        #expect(HostCapacity.memoryBytes() > 0)
    }

    @Test("MemTotal is read in kB")
    func parsesMemTotal() {
        let meminfo = "MemTotal:       24684032 kB\nMemFree:        23180000 kB\n"
        let expected: Int64 = 24_684_032 * 1024
        #expect(HostCapacity.parseMemTotal(meminfo) == expected)
        #expect(HostCapacity.parseMemTotal("MemFree: 1 kB\n") == nil)
    }
}
