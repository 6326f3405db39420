"""Secret injection into task pods: requests decoded from pod annotations, one injector per secret manager."""
