// Symbol visibility: the library is built with hidden visibility and
// exports exactly what the public headers mark with OWF_API.
#pragma once

#if defined(_WIN32)
#define OWF_API
#else
#define OWF_API __attribute__((visibility("default")))
#endif
