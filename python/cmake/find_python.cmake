# Finds what the Python package needs: an interpreter with pybind11
# (Debian: python3-dev, pybind11-dev, python3-pybind11). The interpreter is
# the one given with -DPython3_EXECUTABLE=..., else the first python3 on
# PATH (then /usr/bin/python3) that can import pybind11, so that a bare
# interpreter earlier on PATH (pyenv, a venv without it) is passed over.
# Sets OWF_PYTHON_FOUND.
set(OWF_PYTHON_FOUND OFF)
if(NOT Python3_EXECUTABLE)
  string(REPLACE ":" ";" _owf_path "$ENV{PATH}")
  foreach(_owf_dir IN LISTS _owf_path ITEMS /usr/bin)
    if(EXISTS "${_owf_dir}/python3")
      execute_process(COMMAND "${_owf_dir}/python3" -c "import pybind11" RESULT_VARIABLE _owf_rc
                      OUTPUT_QUIET ERROR_QUIET)
      if(_owf_rc EQUAL 0)
        set(Python3_EXECUTABLE "${_owf_dir}/python3" CACHE FILEPATH "Python interpreter of the owf package")
        break()
      endif()
    endif()
  endforeach()
endif()
if(Python3_EXECUTABLE)
  find_package(Python3 3.8 QUIET COMPONENTS Interpreter Development.Module)
  if(Python3_FOUND)
    execute_process(COMMAND "${Python3_EXECUTABLE}" -c "import pybind11; print(pybind11.get_cmake_dir())"
                    OUTPUT_VARIABLE _owf_pybind11_dir OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    find_package(pybind11 2.6 CONFIG QUIET HINTS "${_owf_pybind11_dir}")
    if(pybind11_FOUND)
      set(OWF_PYTHON_FOUND ON)
    endif()
  endif()
endif()
