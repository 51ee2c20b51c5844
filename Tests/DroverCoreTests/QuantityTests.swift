import DroverCore
import Testing

@Suite struct QuantityTests {
    @Test(arguments: [
        ("500ms", 500), ("30s", 30_000), ("5m", 300_000), ("2h", 7_200_000), ("1d", 86_400_000),
        ("1h30m", 5_400_000), ("1m30s", 90_000), ("1.5s", 1_500), ("0.25s", 250), ("0s", 0),
        (" 10s ", 10_000), ("2h0m5s", 7_205_000), ("1s500ms", 1_500),
    ] as [(String, Int64)])
    func parsesDurations(text: String, milliseconds: Int64) {
        #expect(Quantity.parseDuration(text) == milliseconds)
    }

    @Test(arguments: ["", "   ", "5x", "-1s", "5", "s", "ms", "1.2.3s", "5 s", "1h-30m", "+5s", "5sec", ".s", "1e3s", "∞s"])
    func refusesBadDurations(text: String) {
        #expect(Quantity.parseDuration(text) == nil)
    }

    @Test func refusesAbsurdlyLongDurations() {
        #expect(Quantity.parseDuration("99999999999999d") == nil)
        #expect(Quantity.parseDuration("36500d") != nil)
    }

    @Test(arguments: [
        (250, "250ms"), (0, "0ms"), (1_000, "1s"), (1_500, "1.5s"), (30_000, "30s"), (60_000, "1m"), (90_000, "1m30s"),
        (300_000, "5m"), (3_600_000, "1h"), (5_400_000, "1h30m"), (7_200_000, "2h"),
    ] as [(Int64, String)])
    func formatsDurations(milliseconds: Int64, text: String) {
        #expect(Quantity.formatDuration(milliseconds) == text)
    }

    @Test(arguments: ["500ms", "30s", "5m", "2h", "1h30m", "1.5s", "1m30s", "45m", "12h"])
    func durationFormatRoundTrips(text: String) throws {
        let ms = try #require(Quantity.parseDuration(text))
        #expect(Quantity.formatDuration(ms) == text)
        #expect(Quantity.parseDuration(Quantity.formatDuration(ms)) == ms)
    }

    @Test(arguments: [
        ("512MiB", 512 << 20), ("8GiB", 8 << 30), ("1.5G", 3 << 29), ("100MB", 100_000_000), ("100M", 100 << 20),
        ("4096", 4096), ("4096B", 4096), ("1KiB", 1024), ("1KB", 1000), ("1k", 1024), ("2Ti", 2 << 40), ("1TB", 1_000_000_000_000),
        ("512 MiB", 512 << 20), ("512mib", 512 << 20), ("0.5Gi", 1 << 29),
    ] as [(String, Int64)])
    func parsesSizes(text: String, bytes: Int64) {
        #expect(Quantity.parseSize(text) == bytes)
    }

    @Test(arguments: ["", "lots", "-1", "-1GiB", "5X", "GiB", "1.2.3M", "1PiB0", "99999999999TiB"])
    func refusesBadSizes(text: String) {
        #expect(Quantity.parseSize(text) == nil)
    }

    @Test func decimalAndBinaryMegabytesDiffer() throws {
        let decimal = try #require(Quantity.parseSize("100MB"))
        let binary = try #require(Quantity.parseSize("100M"))
        #expect(binary - decimal == 4_857_600)
    }

    @Test(arguments: [
        (512 * MiB, "512MiB"), (8 * GiB, "8GiB"), (1023, "1023B"), (1024, "1KiB"), (3 * GiB / 2, "1.5GiB"), (0, "0B"),
    ] as [(Int64, String)])
    func formatsSizes(bytes: Int64, text: String) {
        #expect(Quantity.formatSize(bytes) == text)
    }

    @Test(arguments: ["512MiB", "8GiB", "1.5GiB", "1KiB", "3TiB"])
    func sizeFormatRoundTrips(text: String) throws {
        let bytes = try #require(Quantity.parseSize(text))
        #expect(Quantity.formatSize(bytes) == text)
    }

    @Test(arguments: [("500m", 500), ("2", 2000), ("0.5", 500), ("0.1", 100), ("1.25", 1250), (" 4 ", 4000), ("2000m", 2000)] as [(String, Int64)])
    func parsesCPU(text: String, millicores: Int64) {
        #expect(Quantity.parseCPU(text) == millicores)
    }

    @Test(arguments: ["", "two", "m", "1e12", "nan", "inf", "0.5m0"])
    func refusesBadCPU(text: String) {
        #expect(Quantity.parseCPU(text) == nil)
    }

    @Test(arguments: [(2000, "2"), (500, "0.5"), (1250, "1.25"), (100, "0.1"), (0, "0")] as [(Int64, String)])
    func formatsCPU(millicores: Int64, text: String) {
        #expect(Quantity.formatCPU(millicores) == text)
        #expect(Quantity.parseCPU(text) == millicores)
    }

    @Test func constraintsParseAndMatch() throws {
        let eq = try #require(Constraint(parsing: "zone=eu"))
        #expect(eq.op == .equal && eq.key == "zone" && eq.value == "eu")
        let ne = try #require(Constraint(parsing: "gpu.model != T4"))
        #expect(ne.op == .notEqual && ne.key == "gpu.model" && ne.value == "T4")
        #expect(eq.matches(["zone": "eu"]))
        #expect(!eq.matches(["zone": "us"]) && !eq.matches([:]))
        #expect(ne.matches([:]) && ne.matches(["gpu.model": "A100"]) && !ne.matches(["gpu.model": "T4"]))
        #expect(Constraint(parsing: "zone") == nil)
        #expect(Constraint(parsing: "=eu") == nil)
        #expect(Constraint(parsing: "bad key=x") == nil)
        #expect(Constraint(parsing: "a==b")?.value == "=b")
    }
}
