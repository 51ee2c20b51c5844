// What this machine offers to tasks: CPU cores, memory and GPUs.

import Foundation
import Glibc

/// One GPU as reported by nvidia-smi.
public struct GPUDevice: Sendable, Equatable, Codable {
    /// nvidia-smi's device index.
    public var index: Int
    /// The product name, e.g. "NVIDIA H200".
    public var name: String
    /// Total device memory in MiB, or nil if nvidia-smi could not tell ("[N/A]").
    public var memoryMiB: Int?

    /// Creates a GPU description.
    public init(index: Int, name: String, memoryMiB: Int?) {
        self.index = index
        self.name = name
        self.memoryMiB = memoryMiB
    }
}

/// Why GPU detection or parsing failed; `description` is the full explanation.
public struct HostCapacityError: Error, CustomStringConvertible, Sendable {
    /// The full human-readable explanation.
    public var description: String

    /// Creates an error with the given explanation.
    public init(_ description: String) {
        self.description = description
    }
}

/// What this machine offers.
public enum HostCapacity {
    /// CPU cores usable by this process (sched_getaffinity count, falling back to sysconf(_SC_NPROCESSORS_ONLN)).
    public static func cpuCores() -> Int {
        if let getaffinity = GlibcExtras.schedGetaffinity {
            // Start with room for 1024 CPUs; the kernel says EINVAL if its mask is larger.
            var bytes = 128
            while bytes <= 1 << 16 {
                let words = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: bytes / 8)
                defer { words.deallocate() }
                words.initialize(repeating: 0)
                let rc = getaffinity(0, bytes, UnsafeMutableRawPointer(words.baseAddress!))
                if rc == 0 {
                    let count = words.reduce(0) { $0 + $1.nonzeroBitCount }
                    if count > 0 { return count }
                    break
                }
                guard errno == EINVAL else { break }
                bytes *= 2
            }
        }
        return max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }

    /// Total physical memory in bytes (from /proc/meminfo MemTotal; fall back to sysconf pages).
    public static func memoryBytes() -> Int64 {
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
            let bytes = parseMemTotal(text)
        {
            return bytes
        }
        let pages = Int64(sysconf(Int32(_SC_PHYS_PAGES)))
        let pageSize = Int64(sysconf(Int32(_SC_PAGESIZE)))
        return max(0, pages) * max(0, pageSize)
    }

    /// The MemTotal line of /proc/meminfo ("MemTotal:       24684032 kB") in bytes.
    static func parseMemTotal(_ meminfo: String) -> Int64? {
        for line in meminfo.split(separator: "\n") where line.hasPrefix("MemTotal:") {
            let fields = line.dropFirst("MemTotal:".count).split(separator: " ", omittingEmptySubsequences: true)
            guard let first = fields.first, let value = Int64(first) else { return nil }
            let unit = fields.count > 1 ? fields[1].lowercased() : "kb"
            switch unit {
            case "kb": return value * 1024
            case "mb": return value * 1024 * 1024
            case "gb": return value * 1024 * 1024 * 1024
            case "b": return value
            default: return nil
            }
        }
        return nil
    }

    /// Parses the output of `nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader` (lines like "0, NVIDIA H200, 143771 MiB"). Tolerates blank lines, extra spaces, "[N/A]" memory; throws a descriptive error on a malformed line.
    ///
    /// Memory given without a unit (`nounits`) is taken as MiB; any bracketed value ("[N/A]",
    /// "[Not Supported]", …) means unknown. A name containing commas is kept whole.
    public static func parseNvidiaSmiCSV(_ text: String) throws -> [GPUDevice] {
        var devices: [GPUDevice] = []
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            func malformed(_ why: String) -> HostCapacityError {
                HostCapacityError(
                    "malformed nvidia-smi line \(offset + 1) (\(why); expected 'index, name, memory.total'): \(line)")
            }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count >= 3 else { throw malformed("\(fields.count) fields") }
            guard let index = Int(fields[0]), index >= 0 else {
                throw malformed("index '\(fields[0])' is not a number")
            }
            let name = fields[1..<(fields.count - 1)].joined(separator: ",")
                .trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty else { throw malformed("empty name") }
            let memoryField = fields[fields.count - 1]
            var memoryMiB: Int?
            if memoryField.hasPrefix("[") && memoryField.hasSuffix("]") || memoryField == "N/A" {
                memoryMiB = nil
            } else {
                let parts = memoryField.split(separator: " ", omittingEmptySubsequences: true)
                guard parts.count == 1 || (parts.count == 2 && parts[1] == "MiB"),
                    let value = Int(parts[0]), value >= 0
                else {
                    throw malformed("memory '\(memoryField)' is not '<number> MiB'")
                }
                memoryMiB = value
            }
            devices.append(GPUDevice(index: index, name: name, memoryMiB: memoryMiB))
        }
        return devices
    }

    /// Runs `nvidia-smi --query-gpu=index,name,memory.total --format=csv,noheader` found on PATH (or at `executable`) with a timeout of 10 s; returns [] if nvidia-smi is not installed; throws if it exists but fails (non-zero exit), with its stderr in the message.
    public static func detectGPUs(executable: String? = nil) async throws -> [GPUDevice] {
        try await detectGPUs(executable: executable, timeout: .seconds(10))
    }

    /// `detectGPUs(executable:)` with a configurable timeout (for tests).
    static func detectGPUs(executable: String?, timeout: Duration) async throws -> [GPUDevice] {
        let environment = ProcessInfo.processInfo.environment
        let program = executable ?? "nvidia-smi"
        if program.contains("/") {
            if access(program, F_OK) != 0 { return [] }
        } else {
            do {
                _ = try RunningProcess.resolveExecutable(program, environment: environment, workingDirectory: "/")
            } catch {
                if error.errno == ENOENT { return [] }
                throw HostCapacityError("cannot run nvidia-smi: \(error)")
            }
        }

        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("drover-nvidia-smi-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outputPath = directory.appendingPathComponent("stdout").path
        let errorPath = directory.appendingPathComponent("stderr").path

        let launch = ProcessLaunch(
            argv: [program, "--query-gpu=index,name,memory.total", "--format=csv,noheader"],
            environment: environment, workingDirectory: "/", outputPath: outputPath)
        let process: RunningProcess
        do {
            process = try RunningProcess.spawn(launch, errorPath: errorPath)
        } catch {
            if error.errno == ENOENT { return [] }  // vanished between the check and the spawn
            throw HostCapacityError("cannot run nvidia-smi: \(error)")
        }

        enum Outcome: Sendable {
            case exited(ProcessExit)
            case timedOut
            case cancelled
        }
        let outcome = await withTaskGroup(of: Outcome.self) { group -> Outcome in
            group.addTask { .exited(await process.wait()) }
            group.addTask {
                do {
                    try await Task.sleep(for: timeout)
                    return .timedOut
                } catch {
                    return .cancelled
                }
            }
            let first = await group.next() ?? .cancelled
            switch first {
            case .exited: break
            case .timedOut, .cancelled: _ = await process.terminate(grace: .seconds(1))
            }
            group.cancelAll()
            return first
        }

        let stdout = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let stderr = ((try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        switch outcome {
        case .timedOut:
            throw HostCapacityError("nvidia-smi (\(program)) did not finish within \(timeout); killed it")
        case .cancelled:
            throw CancellationError()
        case .exited(let exit):
            guard exit.exitCode == 0 else {
                var message = "nvidia-smi (\(program)) "
                if let code = exit.exitCode {
                    message += "exited with status \(code)"
                } else if let signal = exit.signal {
                    message += "was killed by signal \(signal)"
                } else {
                    message += "ended in an unknown way"
                }
                if !stderr.isEmpty { message += ": \(stderr)" }
                throw HostCapacityError(message)
            }
            return try parseNvidiaSmiCSV(stdout)
        }
    }
}
