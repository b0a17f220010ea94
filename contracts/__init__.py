"""Facts two rooms share that neither may import from the other (DESIGN §2).

Modules here import nothing but the standard library, so the app, `alerts/` and `stacks/` can all
read them without pulling in each other's dependencies.
"""
