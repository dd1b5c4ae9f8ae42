# SPDX-License-Identifier: MIT
# shmq-bridge: shmq endpoints <-> NATS, a program of its own so that neither
# libshmq nor the shmq tool depends on libnats (`shmq bridge` execs it).
#   SHMQ_BRIDGE=AUTO  build it when libnats is found (pkg-config libnats, or
#                     the library and its header)
#   SHMQ_BRIDGE=ON    build it, or fail if libnats is missing
#   SHMQ_BRIDGE=OFF   do not build it
# Included by the top-level CMakeLists.txt. Sets SHMQ_BRIDGE_BUILT.
set(SHMQ_BRIDGE AUTO CACHE STRING "Build shmq-bridge (NATS): AUTO, ON or OFF")
set_property(CACHE SHMQ_BRIDGE PROPERTY STRINGS AUTO ON OFF)
string(TOUPPER "${SHMQ_BRIDGE}" _shmq_bridge)
set(SHMQ_BRIDGE_BUILT FALSE)

if(NOT _shmq_bridge STREQUAL "OFF")
  set(_shmq_nats_target "")
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(SHMQ_NATS QUIET IMPORTED_TARGET libnats)
    if(SHMQ_NATS_FOUND)
      set(_shmq_nats_target PkgConfig::SHMQ_NATS)
    endif()
  endif()
  if(NOT _shmq_nats_target)
    find_path(SHMQ_NATS_INCLUDE nats/nats.h)
    find_library(SHMQ_NATS_LIB nats)
    if(SHMQ_NATS_INCLUDE AND SHMQ_NATS_LIB)
      add_library(shmq_nats INTERFACE)
      target_include_directories(shmq_nats SYSTEM INTERFACE ${SHMQ_NATS_INCLUDE})
      target_link_libraries(shmq_nats INTERFACE ${SHMQ_NATS_LIB})
      set(_shmq_nats_target shmq_nats)
    endif()
  endif()

  if(_shmq_nats_target)
    add_executable(shmq_bridge tools/bridge/main.c tools/bridge/export.c tools/bridge/import.c
                               tools/bridge/ptable.c tools/common.c)
    set_target_properties(shmq_bridge PROPERTIES OUTPUT_NAME shmq-bridge
                          INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")
    target_include_directories(shmq_bridge PRIVATE tools tools/bridge)
    target_link_libraries(shmq_bridge PRIVATE shmq ${_shmq_nats_target} pthread)
    install(TARGETS shmq_bridge RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT bridge)
    set(SHMQ_BRIDGE_BUILT TRUE)
    set(SHMQ_BRIDGE_NATS_TARGET ${_shmq_nats_target})
    message(STATUS "shmq-bridge: libnats found, building shmq-bridge")
  elseif(_shmq_bridge STREQUAL "ON")
    message(FATAL_ERROR "SHMQ_BRIDGE=ON but libnats was not found (Debian: libnats-dev)")
  else()
    message(STATUS "shmq-bridge: libnats not found (Debian: libnats-dev): shmq-bridge skipped")
  endif()
else()
  message(STATUS "shmq-bridge: SHMQ_BRIDGE=OFF: shmq-bridge skipped")
endif()
