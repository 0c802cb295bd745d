// The OWF C++ API: include this, link owf::owf.
#pragma once

#include "owf/convert.hpp"
#include "owf/digest.hpp"
#include "owf/dtype.hpp"
#include "owf/edit.hpp"
#include "owf/elements.hpp"
#include "owf/error.hpp"
#include "owf/limits.hpp"
#include "owf/metadata.hpp"
#include "owf/reader.hpp"
#include "owf/remote.hpp"
#include "owf/shard_set.hpp"
#include "owf/signature.hpp"
#include "owf/source.hpp"
#include "owf/tensor.hpp"
#include "owf/version.hpp"
#include "owf/writer.hpp"
