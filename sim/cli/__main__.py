from sim.cli import main

if __name__ == "__main__":  # not again in the processes a run in parts starts
    main()
