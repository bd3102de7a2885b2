// Copyright 2026 the opsctl authors
// SPDX-License-Identifier: Apache-2.0

import Foundation

/// Where health and smoke requests go around a switch: straight to a slot before it (same
/// scheme, path and query; the slot's host and port), through the proxy's public URL after it.
public enum ProxyRoute {
    /// `url` with its scheme and authority replaced by those of `base` (whose path, if any, prefixes the original path).
    public static func url(_ url: String, through base: String) -> String {
        guard var original = URLComponents(string: url), let target = URLComponents(string: base) else { return url }
        original.scheme = target.scheme
        original.host = target.host
        original.port = target.port
        original.user = nil
        original.password = nil
        let prefix = target.path.hasSuffix("/") ? String(target.path.dropLast()) : target.path
        original.path = prefix + original.path
        return original.string ?? url
    }

    /// `url` sent to the slot directly.
    public static func url(_ url: String, at slot: ProxySlot) -> String {
        let scheme = URLComponents(string: url)?.scheme ?? "http"
        return self.url(url, through: "\(scheme)://\(slot.address)")
    }

    public static func health(_ settings: HealthSettings, at slot: ProxySlot) -> HealthSettings {
        var routed = settings
        routed.url = url(settings.url, at: slot)
        return routed
    }

    public static func health(_ settings: HealthSettings, through proxy: ProxySettings) -> HealthSettings {
        var routed = settings
        routed.url = url(settings.url, through: proxy.url)
        return routed
    }

    /// Smoke checks against one slot: the base URL and absolute check URLs move there.
    public static func smoke(_ settings: SmokeSettings, at slot: ProxySlot) -> SmokeSettings {
        var routed = settings
        routed.baseURL = settings.baseURL.map { url($0, at: slot) }
        routed.checks = settings.checks.map { check in
            var moved = check
            if check.path.hasPrefix("http://") || check.path.hasPrefix("https://") { moved.path = url(check.path, at: slot) }
            return moved
        }
        return routed
    }
}
