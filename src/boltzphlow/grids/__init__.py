"""Grids: commensurate energy grids (energy.py) and k-meshes (kmesh.py)."""
