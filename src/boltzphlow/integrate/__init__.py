"""Time integrators registered by name, the output-time driver and the steady-state solver."""

from boltzphlow.integrate import schemes as _schemes  # noqa: F401  (registers the schemes)
from boltzphlow.integrate.base import (
    INTEGRATORS,
    IntegrationError,
    IntegrationResult,
    Integrator,
    OdeProblem,
    Option,
    SolverStats,
    get_integrator,
    integrate,
    method_name,
    register,
)
from boltzphlow.integrate.steady import (
    LINEAR_SOLVERS,
    SteadyProblem,
    SteadyStateResult,
    steady_state,
)

__all__ = ["INTEGRATORS", "Integrator", "IntegrationError", "IntegrationResult", "OdeProblem",
           "Option", "SolverStats", "method_name", "SteadyStateResult", "get_integrator",
           "integrate", "register", "steady_state", "LINEAR_SOLVERS", "SteadyProblem"]
