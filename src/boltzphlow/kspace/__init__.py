"""States (n, k) of a Hamiltonian on a k-mesh, built once and shared by every k-space model.

``KStates`` (energies, velocities, eigenvectors, velocity matrices, Berry curvature, orbital
moment in an energy window, chunked) is the data every observable and Boltzmann solver reads.
"""
