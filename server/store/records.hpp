// Conversions both stores share between domain records and stored text.
// `store` names the store in error messages ("sqlite", "redis"); `where`
// says where the bad value was found.
#pragma once

#include <string>
#include <string_view>

#include "core/model.hpp"

namespace sb::store {

// Visitor attributes as JSON text: an array of [key, value] pairs, which keeps
// their order (and would keep a repeated key) where an object would not.
// Throws StoreError when a key or value is not UTF-8 (JSON cannot carry it).
std::string attributes_to_json(const proto::Attributes& attributes, std::string_view store);
// Anything but what attributes_to_json() writes is a StoreError, not a guess.
proto::Attributes attributes_from_json(std::string_view text, std::string_view store,
                                       std::string_view what);

core::Sender sender_named(std::string_view name, std::string_view store, std::string_view where);
core::ConvState state_named(std::string_view name, std::string_view store, std::string_view where);

}  // namespace sb::store
