// Exception-to-exit-code mapping for every program (see main_guard.h).
#include "traces/main_guard.h"

#include <exception>
#include <iostream>
#include <new>

#include "traces/errors.h"

namespace spindle {

int run_guarded(const char* program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const InputError& e) {
    std::cerr << e.what() << '\n';
    return kExitBadInput;
  } catch (const IoError& e) {
    std::cerr << program << ": " << e.what() << '\n';
    return kExitFailure;
  } catch (const InternalError& e) {
    std::cerr << program << ": internal error (a bug, please report): " << e.what() << '\n';
    return kExitFailure;
  } catch (const std::bad_alloc&) {
    std::cerr << program << ": out of memory\n";
    return kExitFailure;
  } catch (const std::exception& e) {
    std::cerr << program << ": " << e.what() << '\n';
    return kExitFailure;
  }
}

}  // namespace spindle
