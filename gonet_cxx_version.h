// gonet_cxx_version.h: every public gonet header includes this first, so that a build
// at a language level older than C++20 stops at once with one clear message instead of
// pages of "'string_view' is not a member of 'std'" from inside gonet's headers.
// Target //:cxx_version; it depends on nothing (poller, the bottom layer, may use it).
#ifndef GONET_CXX_VERSION_H_
#define GONET_CXX_VERSION_H_

#if defined(_MSVC_LANG) ? _MSVC_LANG < 202002L : __cplusplus < 202002L
#error "gonet needs C++20: build with -std=c++20 (Bazel: add 'build --cxxopt=-std=c++20 --host_cxxopt=-std=c++20' to your .bazelrc)"
// GCC keeps compiling after #error; a missing include is fatal, so nothing follows.
#include "gonet needs C++20 (see the error above)"
#endif

#endif  // GONET_CXX_VERSION_H_
