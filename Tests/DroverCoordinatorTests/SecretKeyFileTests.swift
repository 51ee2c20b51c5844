import DroverAPI
import Foundation
import Testing
@testable import DroverCoordinator

/// The key file: made once with mode 0600, refused when others may read it or it is not a key.
@Suite final class SecretKeyFileTests {
    let directory = NSTemporaryDirectory() + "drover-key-\(UUID().uuidString.prefix(8))"

    init() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func write(_ bytes: [UInt8], mode: Int, to path: String) throws {
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: mode]))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }

    func refusal(_ path: String, create: Bool = false) -> String {
        do {
            _ = try SecretKeyFile.load(path: path, create: create)
            return "not refused"
        } catch {
            return error.description
        }
    }

    @Test func aMissingDefaultKeyIsMadeOnceWithMode0600() throws {
        let path = SecretKeyFile.defaultPath(dataDirectory: directory)
        #expect(path == directory + "/secret.key")
        let key = try SecretKeyFile.load(path: path, create: true)
        #expect(key.count == 32)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path))) == key)
        #expect(try SecretKeyFile.load(path: path, create: true) == key, "the next start reads the same key")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["secret.key"], "no temporary file is left")
    }

    @Test func aKeyOthersMayReadIsRefusedSayingHowToFixIt() throws {
        let path = directory + "/shared.key"
        try write(Array(repeating: 7, count: 32), mode: 0o644, to: path)
        let message = refusal(path)
        #expect(message.contains("mode 644") && message.contains("chmod 600 \(path)"), "\(message)")
        try write(Array(repeating: 7, count: 32), mode: 0o640, to: path)
        #expect(refusal(path).contains("chmod 600"))
        try write(Array(repeating: 7, count: 32), mode: 0o400, to: path)
        #expect(try SecretKeyFile.load(path: path, create: false) == Array(repeating: 7, count: 32))
    }

    @Test func aFileThatIsNotAKeyIsRefusedAndNeverReplaced() throws {
        let path = directory + "/short.key"
        try write(Array(repeating: 7, count: 31), mode: 0o600, to: path)
        let message = refusal(path, create: true)
        #expect(message.contains("holds 31 bytes") && message.contains("restore the key file"), "\(message)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)).count == 31, "a wrong key is left for the operator, not overwritten")
        #expect(refusal(directory).contains("not a regular file"))
    }

    @Test func aGivenKeyFileMustExist() {
        let path = directory + "/missing.key"
        let message = refusal(path)
        #expect(message.contains("does not exist") && message.contains("head -c 32 /dev/urandom"), "\(message)")
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
