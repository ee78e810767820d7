"""`python -m steam_simulator --port 8787 --seed 7`: how the local stack starts the simulator."""

import typer

from steam_simulator.command import simulator

if __name__ == "__main__":
    typer.run(simulator)
