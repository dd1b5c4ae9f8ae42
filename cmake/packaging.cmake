# SPDX-License-Identifier: MIT
# Debian packages from the tree, with CPack (no debian/ directory):
#   cmake -S . -B build-deb -DCMAKE_INSTALL_PREFIX=/usr
#   cmake --build build-deb -j2 && (cd build-deb && cpack -G DEB)
# One package per install component, as Debian splits a library:
#   libshmq1     lib    libshmq.so.1: what programs built against shmq need
#   libshmq-dev  dev    header, libshmq.so, libshmq.a, shmq.pc, CMake package,
#                       the section 3 pages
#   shmq         tool   the shmq command, shmq(1), shmq(7)
#   shmq-bench   bench  shmq-bench, which `shmq bench` runs; the only one that
#                       pulls in ZeroMQ and nng
# Depends: between the four, exact versions (built together); on the rest of
# the system, what dpkg-shlibdeps finds in the binaries (libc6 alone for
# libshmq1 and shmq, whose tool links libshmq.a). libshmq1 ships a shlibs file, so packages built against
# it get their Depends from dpkg-shlibdeps too. tests/suites/deb.sh builds,
# installs and removes them.
# Included by the top-level CMakeLists.txt after every install().

# CMake 3.20 or later: dpkg-shlibdeps must be told where libshmq.so.1 is
# (CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS).
if(CMAKE_VERSION VERSION_LESS 3.20)
  message(STATUS "Debian packages: need CMake 3.20 or later; cpack not set up")
  return()
endif()
if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(STATUS "Debian packages: configure with -DCMAKE_INSTALL_PREFIX=/usr "
                 "(now ${CMAKE_INSTALL_PREFIX}) to build them for the system")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME shmq)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "shmq")
set(CPACK_PACKAGE_CONTACT "shmq maintainers <maintainers@users.noreply.r-seed-3d5b16f7.example>")
# The packages install exactly where the build was configured to: the
# paths compiled into the tool (libexec) and the multiarch libdir that
# GNUInstallDirs picks for /usr agree with them.
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL lib dev tool bench)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # name_version-release_arch.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Where dpkg-shlibdeps finds libshmq.so.1, which no installed package owns.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CMAKE_BINARY_DIR})
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)

set(CPACK_DEBIAN_LIB_PACKAGE_NAME libshmq${SHMQ_ABI})
set(CPACK_DEBIAN_LIB_PACKAGE_SECTION libs)
set(CPACK_COMPONENT_LIB_DESCRIPTION
  "shared-memory messaging between processes: the library
 libshmq passes messages between processes on Linux through shared memory:
 per-client lock-free rings, futex wake-ups, requests and replies,
 zero-copy views, private (0600) endpoints created exclusively, and a dead
 peer noticed within about 100 ms.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libshmq-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_DEV_DEPENDS lib)
set(CPACK_COMPONENT_DEV_DESCRIPTION
  "shared-memory messaging between processes: development files
 The header shmq.h, libshmq.so and the static libshmq.a, pkg-config's
 shmq.pc, the CMake package (find_package(shmq)), and a man page for every
 function.")

set(CPACK_DEBIAN_TOOL_PACKAGE_NAME shmq)
set(CPACK_DEBIAN_TOOL_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_TOOL_PACKAGE_SUGGESTS shmq-bench)
set(CPACK_COMPONENT_TOOL_DESCRIPTION
  "shared-memory messaging between processes: the shmq command
 shmq server, shmq client, shmq stat and shmq rm: the classic shared-memory
 tutorial's session, done safely, and ipcs-like administration of shmq
 endpoints. shmq bench needs the package shmq-bench.")

set(CPACK_DEBIAN_BENCH_PACKAGE_NAME shmq-bench)
set(CPACK_DEBIAN_BENCH_PACKAGE_SECTION utils)
set(CPACK_COMPONENT_BENCH_DEPENDS tool lib)
set(CPACK_COMPONENT_BENCH_DESCRIPTION
  "shared-memory messaging between processes: the benchmark
 shmq-bench, run as shmq bench: shmq against pipes, FIFOs, message queues,
 sockets, shared memory with semaphores and, when built with them, ZeroMQ
 and nng, every message verified.")

# shmq-bridge, where it was built: its own package, the only one that pulls
# in libnats.
if(TARGET shmq_bridge)
  list(APPEND CPACK_COMPONENTS_ALL bridge)
  set(CPACK_DEBIAN_BRIDGE_PACKAGE_NAME shmq-bridge)
  set(CPACK_DEBIAN_BRIDGE_PACKAGE_SECTION net)
  set(CPACK_COMPONENT_BRIDGE_DEPENDS tool lib)
  set(CPACK_DEBIAN_BRIDGE_PACKAGE_SUGGESTS nats-server)
  set(CPACK_COMPONENT_BRIDGE_DESCRIPTION
    "shared-memory messaging between processes: the bridge to NATS
 shmq-bridge, run as shmq bridge: a local shmq server served on a NATS
 subject (export), or a NATS service offered as a local shmq endpoint
 (import), with correlated requests, error replies and bounded reconnects.")
endif()

include(CPack)
