"""Energy-resolved kinetics in time: distributions evolved by nonlinear collision integrals."""
