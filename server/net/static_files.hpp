// Mapping request targets to files under the web folder, safely.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace sb::net {

enum class StaticKind { file, directory_without_slash, not_found };

struct StaticLookup {
    StaticKind kind = StaticKind::not_found;
    std::filesystem::path path;  // the file to serve
};

// Resolves the path part of a request target (query already stripped) inside
// `root` (an absolute, canonical folder). Percent-escapes are decoded once;
// "..", backslashes, NULs and anything resolving outside root (symlinks too)
// are not found. A folder serves its index.html.
StaticLookup resolve_static(const std::filesystem::path& root, std::string_view target_path);

std::string_view mime_type(const std::filesystem::path& file);

}  // namespace sb::net
